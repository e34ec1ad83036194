"""Secrets never printed: real nodes with a password in every place, all their output grepped.

Passwords sit in a dial URL (user:password@, and a token= query), a refused socks5 proxy URL
(from $http_proxy and from a config file), a real tinyproxy's URL (which refuses us), a
password file, and the control API's htpasswd.  Retries, config errors, events through the
log plugin and the control answers (`dials`, `links`, `delport`, `status`, errors) are then
searched for each secret string.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_ctl_security import make_htpasswd
from test_proxy import Tinyproxy
from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, free_port, toml_dumps, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("tinyproxy") is None or shutil.which("htpasswd") is None,
    reason="needs tinyproxy and Apache's htpasswd",
)

DIAL_PW = "dialPW-7f3a9c"  # user:password@ of a dial URL that links up
DEAD_PW = "deadPW-61be0d"  # user:password@ of a dial URL whose host is down
TOKEN = "tokenPW-0c9d42"  # ?token= of a dial URL
SOCKS_PW = "socksPW-2b8e1d"  # a socks5:// proxy URL (refused: only http:// is supported)
TINY_PW = "tinyPW-5c4d3e"  # the http proxy URL's password, which tinyproxy refuses
FILE_PW = "filePW-9e1f77"  # the first line of a password_file
CTL_PW = "ctlPW-3a7b51"  # the admin's control API password
OPS_PW = "opsPW-44d2a8"  # a read-only control user's password
SECRETS = (DIAL_PW, DEAD_PW, TOKEN, SOCKS_PW, TINY_PW, FILE_PW, CTL_PW, OPS_PW)


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    # BasicAuth with another password: every CONNECT through it is refused (401/407).
    proxy = Tinyproxy(tmp_path, free_port(), ("puser", "the-right-one"))
    try:
        yield proxy
    finally:
        proxy.stop()


def wsnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_no_secret_in_any_output(
    wsnet_node_factory: NodeFactory, tmp_path: Path, tinyproxy: Tinyproxy
) -> None:
    out: list[str] = []  # every piece of output of the run, searched at the end
    users = tmp_path / "ctl.htpasswd"
    make_htpasswd(users, "admin", CTL_PW)
    make_htpasswd(users, "ops", OPS_PW)
    pw_file = tmp_path / "pw"
    pw_file.write_text(FILE_PW + "\n")
    hub = wsnet_node_factory("hub", plugins=["log"])
    dead = free_port()
    tiny = f"http://puser:{TINY_PW}@127.0.0.1:{tinyproxy.port}"
    dials = [
        {"url": f"ws://bob:{DIAL_PW}@127.0.0.1:{hub.port}/wsnet", "proxy": "none"},
        # No proxy option: $http_proxy (socks5, refused at each attempt) applies.
        {"url": f"ws://carol:{DEAD_PW}@127.0.0.1:{dead}/wsnet?token={TOKEN}"},
        {"url": f"ws://127.0.0.1:{dead}/x", "user": "dave", "password_file": str(pw_file),
         "proxy": tiny},
    ]  # fmt: skip
    admin = CtlOptions("admin", CTL_PW)
    ops = CtlOptions("ops", OPS_PW)
    authz = {"principal": {"ops": {"call": ["status", "links", "dials"]}}}
    socks = f"socks5://puser:{SOCKS_PW}@127.0.0.1:9"
    edge = wsnet_node_factory(
        "edge",
        listen=False,
        plugins=["log", "switch"],
        config={"dial": dials, "control": {"htpasswd": str(users)}, "authz": authz},
        ctl_options=admin,
        start=False,
    )
    edge.env["http_proxy"] = socks
    edge.start()
    wait_until(lambda: "edge" in hub.peers(), what="edge linked to the hub")

    # Retries of both failing dials: at least three each.
    def retried() -> bool:
        return all(d["attempts"] >= 3 for d in edge.ctl("dials") if str(dead) in d["url"])

    wait_until(retried, timeout=30, what="three attempts of each failing dial")

    # Control answers, as the admin and as the read-only user, through Python and the CLI.
    for who in (admin, ops):
        for method in ("dials", "links", "status"):
            out.append(json.dumps(call(edge.ctlurl, method, options=who)))
    for method in ("dials", "links"):
        res = wsnet("ctl", "--ctlurl", edge.ctlurl, "--ctluser", "ops", method,
                    env={"WSNET_CTLPASSWORD": OPS_PW})  # fmt: skip
        assert res.returncode == 0, res.stderr
        out += [res.stdout, res.stderr]
    shown = {d["url"] for d in edge.ctl("dials")}
    assert f"ws://bob:***@127.0.0.1:{hub.port}/wsnet" in shown
    assert f"ws://carol:***@127.0.0.1:{dead}/wsnet?token=***" in shown
    assert any("refused CONNECT" in d["last_error"] for d in edge.ctl("dials")), edge.ctl("dials")
    assert any("socks5://puser:***@" in d["last_error"] for d in edge.ctl("dials"))
    remotes = [link["remote"] for link in edge.ctl("links")]
    assert remotes == [f"ws://bob:***@127.0.0.1:{hub.port}/wsnet"]

    # A run-time client port with a password, and a refused proxy; then delport it.
    client = f"ws://erin:{DEAD_PW}@127.0.0.1:{free_port()}/wsnet"
    out.append(json.dumps(edge.ctl("addport", kind="client", name=client)))
    with pytest.raises(CtlError) as refused:
        edge.ctl("dial", url=client, proxy=socks)
    out.append(str(refused.value))
    res = wsnet("ctl", "--ctlurl", edge.ctlurl, "--ctluser", "admin", "delport", client,
                env={"WSNET_CTLPASSWORD": CTL_PW})  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "erin:***@" in res.stdout
    out += [res.stdout, res.stderr]
    with pytest.raises(CtlError) as gone:
        edge.ctl("delport", client)
    out.append(str(gone.value))

    # Config errors: a refused proxy in a file and on the command line, a bad dial URL.
    bad = tmp_path / "bad.toml"
    bad.write_text(toml_dumps({"dial": [{"url": f"ws://bob:{DIAL_PW}@h:1/", "proxy": socks}]}))
    for args in (
        ["--config", str(bad)],
        ["--dial", f"ws://bob:{DIAL_PW}@h:1/", "--proxy", socks],
        ["--dial", f"ws://bob:{DIAL_PW}@h:99999/"],
        ["--dial", f"wsx://bob:{DIAL_PW}@h:1/"],
    ):
        res = wsnet("run", "--listen", "none", "--ctl-port", "0", *args)
        assert res.returncode == 2, res.stderr
        assert "***" in res.stderr, res.stderr
        out += [res.stdout, res.stderr]

    time.sleep(1.0)  # a few more retries into the logs
    edge.stop()
    hub.stop()
    logs = edge.log() + hub.log()
    assert "dial.failed" in logs and "link.up" in logs  # the log plugin printed events
    assert "only http:// proxies are supported" in logs
    out.append(logs)
    found = {s: [chunk[:300] for chunk in out if s in chunk] for s in leaks("\n".join(out))}
    assert not found, f"secrets in the output: {found}"
