"""Least privilege on the control API, against real nodes.

A read-only user reads no URL password; nothing answers without credentials when the API
has users; deeply nested JSON is a 400, not a traceback; run-time options that read files
(password_file, ca/cert/key_file) only for callers granted them, and a refused caller's
file never reaches the URL it named (the test's listener records what arrives).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_ctl_security import make_htpasswd
from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import ServerThread

pytestmark = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)

ADMIN_PW = "adminPW-81c3e0"
OPS_PW = "opsPW-0b7d15"
URL_PW = "urlPW-5e2a99"
FILE_SECRET = "fileSECRET-c4f0d2"  # the first line of a file only root should read
ADMIN = CtlOptions("admin", ADMIN_PW)
OPS = CtlOptions("ops", OPS_PW)


def secured_node(factory: NodeFactory, tmp_path: Path, **config: object) -> NodeProcess:
    """A node whose control API has users: admin (everything) and ops (a few methods)."""
    users = tmp_path / "ctl.htpasswd"
    make_htpasswd(users, "admin", ADMIN_PW)
    make_htpasswd(users, "ops", OPS_PW)
    authz = {"principal": {"admin": {"call": ["*"]},
                           "ops": {"call": ["status", "dials", "dial", "addport"]}}}  # fmt: skip
    return factory(
        "a", plugins=["log", "switch"], ctl_options=ADMIN,
        config={"control": {"htpasswd": str(users)}, "authz": authz, **config},
    )  # fmt: skip


def http(url: str, body: bytes | None = None, auth: CtlOptions | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    for name, value in (auth.headers() if auth else {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


class Recorder:
    """A TCP listener that keeps the first bytes of every connection (an HTTP request)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server = ServerThread(self._handle)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                self.received.append(await reader.readuntil(b"\r\n\r\n"))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        writer.close()

    def text(self) -> str:
        return b"".join(self.received).decode("latin-1")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    rec.server.start()
    try:
        yield rec
    finally:
        rec.server.stop()


def test_read_only_user_reads_no_url_password(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    dead = free_port()
    node = secured_node(
        wsnet_node_factory, tmp_path, dial=[{"url": f"ws://bob:{URL_PW}@127.0.0.1:{dead}/w"}]
    )
    dials = call(node.ctlurl, "dials", options=OPS)
    assert [d["url"] for d in dials] == [f"ws://bob:***@127.0.0.1:{dead}/w"]
    wait_until(lambda: call(node.ctlurl, "dials", options=OPS)[0]["attempts"] >= 2, what="retry")
    assert URL_PW not in json.dumps(call(node.ctlurl, "dials", options=OPS))
    assert URL_PW not in node.log()


def test_nothing_answers_without_credentials(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    node = secured_node(wsnet_node_factory, tmp_path)
    root = node.ctlurl.removesuffix("rpc")
    for url in (root, root + "rpc", root + "nothing-here"):
        status, text = http(url)
        assert status == 401, (url, status, text)
        assert "JSON-RPC" not in text and "control API" not in text, text
    status, text = http(root, auth=ADMIN)
    assert status == 200 and "JSON-RPC" in text


def test_deeply_nested_json_is_a_400(wsnet_node_factory: NodeFactory, tmp_path: Path) -> None:
    node = secured_node(wsnet_node_factory, tmp_path)
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status",
                         "params": {"x": json.loads("[" * 40 + "]" * 40)}}).encode()  # fmt: skip
    for body in (deep, nested):
        assert http(node.ctlurl, body)[0] == 401  # not even parsed without credentials
        status, text = http(node.ctlurl, body, auth=ADMIN)
        assert status == 400, (status, text[:300])
        assert "nested deeper than" in json.loads(text)["error"]["message"]
    assert node.ctl("status")["node"] == "a"
    assert "Traceback" not in node.log()


def sent_secret(rec: Recorder) -> bool:
    token = base64.b64encode(f"x:{FILE_SECRET}".encode()).decode()
    return token in rec.text() or FILE_SECRET in rec.text()


def test_file_options_need_a_grant(
    wsnet_node_factory: NodeFactory, tmp_path: Path, recorder: Recorder
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(FILE_SECRET + "\n")
    node = secured_node(wsnet_node_factory, tmp_path)
    url = f"ws://127.0.0.1:{recorder.server.port}/w"
    for method, params in (
        ("dial", {"url": url, "user": "x", "password_file": str(secret)}),
        ("addport", {"kind": "client", "name": url, "user": "x", "password_file": str(secret)}),
        ("dial", {"url": url, "ca_file": str(secret)}),
    ):
        with pytest.raises(
            CtlError, match=f"refused .*'ops' needs the call grant '{method}:files'"
        ):
            call(node.ctlurl, method, params, options=OPS)
    assert call(node.ctlurl, "dials", options=OPS) == []
    time.sleep(1.5)  # a dial that had started would have connected by now
    assert not recorder.received
    # The admin is granted "*": the same dial sends the file's line (the listener sees it).
    call(
        node.ctlurl, "dial", {"url": url, "user": "x", "password_file": str(secret)}, options=ADMIN
    )
    wait_until(lambda: sent_secret(recorder), what="the granted dial's Authorization header")


def test_file_options_without_users_need_the_config_key(
    wsnet_node_factory: NodeFactory, tmp_path: Path, recorder: Recorder
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(FILE_SECRET + "\n")
    url = f"ws://127.0.0.1:{recorder.server.port}/w"
    params = {"url": url, "user": "x", "password_file": str(secret)}
    closed = wsnet_node_factory("a")
    with pytest.raises(CtlError, match=r"refused \(\[control\] allow_file_options is false\)"):
        closed.ctl("dial", **params)
    time.sleep(1.5)
    assert not recorder.received
    opened = wsnet_node_factory("b", config={"control": {"allow_file_options": True}})
    opened.ctl("dial", **params)
    wait_until(lambda: sent_secret(recorder), what="the allowed dial's Authorization header")


def test_the_nodes_own_password_is_not_sent_where_a_caller_picks(
    wsnet_node_factory: NodeFactory,
    tmp_path: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node holds a link password in $WSNET_PASSWORD (its own dials use it).  ops may
    `dial` and `addport` but not read the node's secrets: a run-time dial with a user and
    no password_file (or a URL user without a password) would send that password, as Basic
    credentials, to the URL ops names."""
    monkeypatch.setenv("WSNET_PASSWORD", FILE_SECRET)
    node = secured_node(wsnet_node_factory, tmp_path)
    port = recorder.server.port
    for method, params in (
        ("dial", {"url": f"ws://127.0.0.1:{port}/w", "user": "x"}),
        ("dial", {"url": f"ws://x@127.0.0.1:{port}/u"}),
        ("addport", {"kind": "client", "name": f"ws://127.0.0.1:{port}/a", "user": "x"}),
    ):
        with pytest.raises(CtlError, match=f"'ops' needs the call grant '{method}:files'"):
            call(node.ctlurl, method, params, options=OPS)
    time.sleep(1.5)  # a dial that had started would have connected by now
    assert not sent_secret(recorder), recorder.text()
    call(node.ctlurl, "dial", {"url": f"ws://127.0.0.1:{port}/w", "user": "x"}, options=ADMIN)
    wait_until(lambda: sent_secret(recorder), what="the admin's dial with $WSNET_PASSWORD")
