"""Before the upgrade the bridge guards its port as the node's own listeners do: one
deadline from accept to the upgrade (slowloris, a TLS client that sends one byte), caps
on such connections per source and in total, and an RST when out of descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from wsfy_client import roundtrip
from wsfy_support import BridgeNode, Pki

from wsnet.testing import wait_until

PARTIAL = b"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"


@contextlib.contextmanager
def clients() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        yield socks
    finally:
        for s in socks:
            s.close()


def opened(port: int, first: bytes, socks: list[socket.socket]) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    socks.append(s)
    if first:
        s.sendall(first)
    return s


def fate_of_new(port: int, first: bytes, socks: list[socket.socket], seconds: float) -> str:
    """The fate of one more connection (reset may come as early as connect())."""
    try:
        return fate(opened(port, first, socks), seconds)
    except (ConnectionResetError, BrokenPipeError):
        return "rst"


def fate(s: socket.socket, seconds: float) -> str:
    """'rst', 'eof', 'data' or 'waiting' after at most ``seconds``."""
    ready, _, _ = select.select([s], [], [], seconds)
    if not ready:
        return "waiting"
    try:
        return "data" if s.recv(4096) else "eof"
    except ConnectionResetError:
        return "rst"


def test_a_slow_request_and_a_silent_tls_client_are_cut_at_the_deadline(
    bridge_node: BridgeNode, echo_port: int, pki: Pki
) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", handshake_timeout=1,
                             cert=str(pki.cert), key=str(pki.key))  # fmt: skip
    with clients() as socks:
        t0 = time.monotonic()
        slow = opened(port, PARTIAL, socks)  # the head never ends (slowloris)
        one_byte = opened(port, b"\x16", socks)  # a TLS record's first byte, then nothing
        silent = opened(port, b"", socks)  # not a byte: ws or wss is never known
        assert [fate(s, 8) for s in (slow, one_byte, silent)] == ["rst"] * 3
        assert time.monotonic() - t0 < 8
    info = node.ctl("websockify")[0]
    assert info["timed_out"] == 3 and info["pending"] == 0, info
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 1000))  # still serving
    assert r.received == r.sent


def test_pending_connections_are_capped_per_source(bridge_node: BridgeNode, echo_port: int) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", max_pending_per_source=3)
    with clients() as socks:
        for _ in range(3):
            opened(port, PARTIAL, socks)
        wait_until(lambda: node.ctl("websockify")[0]["pending"] == 3, what="3 pending")
        assert fate_of_new(port, PARTIAL, socks, 5) == "rst"
        for s in socks:
            s.close()
        wait_until(lambda: node.ctl("websockify")[0]["pending"] == 0, what="none pending")
    info = node.ctl("websockify")[0]
    assert info["rst"] == 1, info
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 1000))  # an upgrade: trusted
    assert r.received == r.sent
    assert node.ctl("websockify")[0]["pending"] == 0


def test_pending_connections_are_capped_in_total(bridge_node: BridgeNode, echo_port: int) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", max_pending=2)
    with clients() as socks:
        first = [opened(port, PARTIAL, socks) for _ in range(2)]
        wait_until(lambda: node.ctl("websockify")[0]["pending"] == 2, what="2 pending")
        assert fate_of_new(port, b"", socks, 5) == "rst"
        assert [fate(s, 0.2) for s in first] == ["waiting", "waiting"]


def test_out_of_descriptors_the_bridge_refuses_with_rst_and_says_so(
    bridge_node: BridgeNode, echo_port: int
) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", start=False, handshake_timeout=60,
                             max_pending_per_source=1000)  # fmt: skip
    node.argv = ["prlimit", "--nofile=128:128", "--", *node.argv]
    node.start()
    with clients() as socks:
        reset = 0
        for _ in range(200):
            try:
                opened(port, PARTIAL, socks)
            except (ConnectionResetError, BrokenPipeError):
                reset += 1
        time.sleep(1.0)
        fates = [fate(s, 0.05) for s in socks]
    assert "eof" not in fates and "data" not in fates
    assert reset + fates.count("rst") > 0, "no client was refused"
    log = node.log()
    assert "out of file descriptors" in log, log[-2000:]
    # the control API shares the descriptors: ask once the clients are gone
    assert wait_until(lambda: node.ctl("websockify")[0], what="ctl")["rst"] > 0


def test_a_served_file_does_not_leave_a_trusted_connection_to_trickle_on(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    """A file's request ends the deadline (the file may be large); the connection then
    closes after the file, as websockify's HTTP/1.0 server does, so that a request head
    trickled on it afterwards is not a way around the deadline and the caps."""
    (tmp_path / "index.html").write_text("<html></html>\n")
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", web=str(tmp_path),
                             handshake_timeout=1)  # fmt: skip
    with clients() as socks:
        s = opened(port, b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", socks)
        reply = b""
        while b"</html>" not in reply:
            chunk = s.recv(4096)
            assert chunk, reply
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 ")
        with contextlib.suppress(OSError):
            s.sendall(PARTIAL)  # then nothing more
        assert fate(s, 8) in ("eof", "rst")
