"""The upgrade's credentials go through the node's one authenticator chain
(``NodeAPI.authenticate``): its refusals keep their status and headers (429 with
Retry-After after repeated failures, not a bare 401) and are logged as the bridge's."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from wsfy_client import roundtrip
from wsfy_support import BridgeNode, Pki

UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}  # fmt: skip


async def answers(url: str, headers: dict[str, str], n: int) -> list[tuple[int, str]]:
    """(status, Retry-After) of ``n`` upgrade requests in a row."""
    out = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.get(url, headers={**UPGRADE, **headers}) as resp:
                out.append((resp.status, resp.headers.get("Retry-After", "")))
    return out


def test_repeated_failures_get_429_with_retry_after_as_on_links(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    subprocess.run(["htpasswd", "-b", "-B", "-c", str(users), "alice", "s3cret"], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    node, port = bridge_node(
        name="gw", target=f"127.0.0.1:{echo_port}", plugins=["auth_htpasswd"],
        config={"auth_htpasswd": {"file": str(users), "max_failures": 2, "max_delay": 30}},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/websockify"
    bad = {"Authorization": aiohttp.encode_basic_auth("alice", "Wr0ngPw")}
    got = asyncio.run(answers(url, bad, 4))
    assert [s for s, _ in got[:2]] == [401, 401], got
    assert got[-1][0] == 429 and int(got[-1][1]) >= 1, got
    log = node.log()
    assert "websockify bridge1: refused a WebSocket from 127.0.0.1:" in log, log[-2000:]
    assert "(htpasswd)" in log and "s3cret" not in log and "Wr0ngPw" not in log


def test_refusals_anyone_can_send_are_logged_once_per_period_and_quoted(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"mine: 127.0.0.1:{echo_port}\n")
    authz = {"default": "deny", "principal": {"anonymous": {"open": ["websockify:mine"]}}}
    node, port = bridge_node(token_plugin="TokenFile", token_source=str(tokens),
                             origins=["http://good.example"], config={"authz": authz})  # fmt: skip
    url = f"http://127.0.0.1:{port}/websockify"
    evil = asyncio.run(answers(url, {"Origin": "http://evil.example"}, 40))
    assert {s for s, _ in evil} == {403}
    good = {"Origin": "http://good.example"}
    sneaky = asyncio.run(answers(url + "?token=x%0aWARNING%20forged%20line", good, 40))
    assert {s for s, _ in sneaky} == {403}
    log = node.log()
    assert log.count("evil.example") == 1, log[-3000:]
    assert log.count("forged line") == 1 and "\nWARNING forged line" not in log, log[-3000:]
    assert "x\\nWARNING forged line" in log


def test_verify_client_refuses_plain_connections(
    bridge_node: BridgeNode, echo_port: int, pki: Pki
) -> None:
    """A client certificate can only be asked for over TLS: with verify_client a plain
    ws:// upgrade on the same port would walk around it (websockify lets it)."""
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", cert=str(pki.cert), key=str(pki.key),
                          verify_client=True, cafile=str(pki.ca))  # fmt: skip
    with pytest.raises(aiohttp.ClientError):
        asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 10))
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    assert asyncio.run(roundtrip(f"wss://127.0.0.1:{port}/websockify", 1000, ssl_ctx=ctx)).received
