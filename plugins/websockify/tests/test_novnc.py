"""noVNC (Debian's package) served by the bridge's ``web``, in headless Chromium, showing
an Xvfb desktop through x11vnc: the screenshot has the desktop's colour.  Over ws, over
wss (the test's certificate trusted by its SPKI hash), and through a second node."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from desktop import chromium, missing_tools, page, vnc_desktop
from png import pixels
from wsfy_support import BridgeNode, Pki

from wsnet.testing import NodeFactory, wait_until

NOVNC = Path("/usr/share/novnc")
COLOUR = (0x33, 0x99, 0x66)  # not a colour noVNC's own page uses
HEX = "#" + bytes(COLOUR).hex()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {missing_tools()}"),
    pytest.mark.skipif(not (NOVNC / "vnc.html").exists(), reason="Debian package novnc missing"),
]


def spki_hash(cert: Path) -> str:
    """base64 SHA-256 of the certificate's public key, as Chromium's flag wants it."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=30).stdout  # fmt: skip
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True, timeout=30).stdout  # fmt: skip
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                            check=True, capture_output=True, timeout=30).stdout  # fmt: skip
    return subprocess.run(["base64"], input=digest, check=True, capture_output=True,
                          timeout=30).stdout.decode().strip()  # fmt: skip


def _near(pixel: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 4 for a, b in zip(pixel, COLOUR, strict=True))


CANVAS = """(() => {
  if (!document.documentElement.classList.contains('noVNC_connected')) return null;
  const c = document.querySelector('canvas');
  if (!c || c.width !== 320) return null;
  const r = c.getBoundingClientRect();
  return [r.x, r.y, r.width, r.height];
})()"""


async def _shows_desktop(devtools: int, url: str) -> tuple[int, bytes]:
    """Open ``url``: the percentage of COLOUR in a clip of the remote screen, and a
    screenshot of the whole page."""
    async with page(devtools) as tab:
        await tab.call("Page.navigate", url=url)
        x, y, w, h = await tab.wait_for(CANVAS, timeout=60)
        clip = {"x": x + w / 4, "y": y + h / 4, "width": w / 2, "height": h / 2}
        for _ in range(40):  # the first update may still be on its way: bounded retries
            width, height, px = pixels(await tab.screenshot(clip))
            hits = sum(
                1 for p in px if all(abs(a - b) <= 4 for a, b in zip(p, COLOUR, strict=True))
            )
            if hits >= 0.95 * width * height:
                break
            await asyncio.sleep(0.25)
        return hits * 100 // (width * height), await tab.screenshot()


def _check(devtools: int, url: str, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    percent, png = asyncio.run(_shows_desktop(devtools, url))
    shot.write_bytes(png)
    keep = os.environ.get("WSNET_NOVNC_SHOT_DIR")  # docs/websockify.md's picture
    if keep:
        shutil.copy(shot, Path(keep) / f"novnc-{name}.png")
    assert percent >= 95, f"{name}: only {percent}% of the remote screen has {HEX}"


def test_novnc_over_ws_and_wss(bridge_node: BridgeNode, pki: Pki, tmp_path: Path) -> None:
    with vnc_desktop(HEX) as vnc, chromium(tmp_path / "profile", spki_hash(pki.cert)) as dt:
        _, port = bridge_node(target=f"127.0.0.1:{vnc}", web=str(NOVNC), cert=str(pki.cert),
                              key=str(pki.key))  # fmt: skip
        query = f"autoconnect=1&resize=off&host=127.0.0.1&port={port}&path=websockify"
        _check(dt, f"http://127.0.0.1:{port}/vnc.html?{query}", tmp_path, "ws")
        _check(dt, f"https://127.0.0.1:{port}/vnc.html?{query}&encrypt=1", tmp_path, "wss")


def test_novnc_through_a_second_node(
    wsnet_node_factory: NodeFactory, bridge_node: BridgeNode, tmp_path: Path
) -> None:
    """The VNC server is reached from node b (its tcp service); the browser talks to a."""
    with vnc_desktop(HEX) as vnc, chromium(tmp_path / "profile") as dt:
        b = wsnet_node_factory("b", plugins=["tcp"],
                               config={"tcp": {"targets": [f"127.0.0.1:{vnc}"]}})  # fmt: skip
        a, port = bridge_node("a", dial=[b.url], web=str(NOVNC), target=f"127.0.0.1:{vnc}@b")
        wait_until(lambda: "b" in a.peers(), timeout=20, what="a linked to b")
        query = f"autoconnect=1&resize=off&host=127.0.0.1&port={port}&path=websockify"
        _check(dt, f"http://127.0.0.1:{port}/vnc.html?{query}", tmp_path, "mesh")
        assert b.ctl("tunnels"), "the VNC connection did not go through b"
