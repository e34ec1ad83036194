"""wsnet-tcp end to end: real `wsnet run` nodes on loopback, real TCP servers behind them."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_tcp import (
    Firehose,
    closed_port,
    connect_refused,
    echo_handler,
    echo_roundtrip,
    rss_kib,
    server_thread,
)


def _pair(
    factory: NodeFactory, a_tcp: dict[str, Any], b_tcp: dict[str, Any]
) -> tuple[NodeProcess, NodeProcess]:
    """Node a listens for links, b dials it; each with its own [tcp] section."""
    a = factory("a", plugins=["tcp"], config={"tcp": a_tcp})
    b = factory("b", listen=False, dial=[a.url], plugins=["tcp"], config={"tcp": b_tcp})
    wait_until(lambda: "b" in a.peers() and "a" in b.peers(), what="link a<->b")
    return a, b


def _one_tunnel(
    factory: NodeFactory, name: str, lport: int, target: int
) -> tuple[NodeProcess, NodeProcess]:
    """a listens on ``lport`` for tunnel ``name``, b connects it to ``target``; once bound."""
    a, b = _pair(
        factory,
        {"tunnel": [{"name": name, "listen": f"127.0.0.1:{lport}", "peer": "b"}]},
        {"tunnel": [{"name": name, "connect": f"127.0.0.1:{target}"}]},
    )
    wait_until(lambda: _listening(a, name), what=f"listener of {name}")
    return a, b


def _listening(node: NodeProcess, name: str) -> bool:
    rows = [t for t in node.ctl("tunnels") if t["name"] == name and t["role"] == "listen"]
    return bool(rows) and rows[0]["state"] == "listening"


def _tunnel(node: NodeProcess, name: str, role: str) -> dict[str, Any]:
    rows = [t for t in node.ctl("tunnels") if t["name"] == name and t["role"] == role]
    assert rows, node.ctl("tunnels")
    return dict(rows[0])


def test_100_concurrent_connections_both_directions(wsnet_node_factory: NodeFactory) -> None:
    """a listens → b connects, and b listens → a connects; every byte verified by hash."""
    pa, pb = free_port(), free_port()
    with server_thread(echo_handler) as echo_a, server_thread(echo_handler) as echo_b:
        a, b = _pair(
            wsnet_node_factory,
            {"tunnel": [
                {"name": "to-b", "listen": f"127.0.0.1:{pa}", "peer": "b"},
                {"name": "to-a", "connect": f"127.0.0.1:{echo_a.port}"},
            ]},
            {"tunnel": [
                {"name": "to-b", "connect": f"127.0.0.1:{echo_b.port}"},
                {"name": "to-a", "listen": f"127.0.0.1:{pb}", "peer": "a"},
            ]},
        )  # fmt: skip
        wait_until(lambda: _listening(a, "to-b") and _listening(b, "to-a"), what="listeners")
        rng = random.Random(6)
        sizes = [rng.choice([0, 1, 1000, 65536, 300_000, 1 << 20, 2_500_000]) for _ in range(100)]

        async def many(port: int) -> list[Any]:
            return await asyncio.gather(*(echo_roundtrip(port, n) for n in sizes))

        for port in (pa, pb):
            results = asyncio.run(many(port))
            bad = [r for r in results if not r.ok]
            assert not bad, f"{len(bad)} transfers corrupted, e.g. {bad[0]}"
        total = sum(sizes)
        ta, tb = _tunnel(a, "to-b", "listen"), _tunnel(b, "to-b", "connect")
        assert ta["total"] == 100 and tb["total"] == 100
        assert ta["errors"] == 0 and tb["errors"] == 0
        assert ta["bytes_out"] == total and ta["bytes_in"] == total
        assert _tunnel(b, "to-a", "listen")["total"] == 100


def test_http_server_behind_a_tunnel(wsnet_node_factory: NodeFactory, tmp_path: Path) -> None:
    """`python -m http.server` on b's side, fetched through a's listener."""
    www = tmp_path / "www"
    www.mkdir()
    body = random.randbytes(3_000_000)
    (www / "blob.bin").write_bytes(body)
    http_port, lport = free_port(), free_port()
    srv = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1"],
        cwd=www, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _one_tunnel(wsnet_node_factory, "web", lport, http_port)
        wait_until(lambda: not connect_refused(http_port), what="http.server")
        for _ in range(3):
            with urllib.request.urlopen(f"http://127.0.0.1:{lport}/blob.bin", timeout=20) as r:
                assert r.status == 200
                assert r.read() == body
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{lport}/missing", timeout=20)
        assert err.value.code == 404
    finally:
        srv.terminate()
        srv.wait(10)


def test_far_connect_refused_closes_near_socket_fast(wsnet_node_factory: NodeFactory) -> None:
    lport, dead = free_port(), closed_port()
    a, b = _one_tunnel(wsnet_node_factory, "dead", lport, dead)
    with socket.create_connection(("127.0.0.1", lport), timeout=5) as s:
        s.sendall(b"hello")
        t0 = time.monotonic()
        with pytest.raises(ConnectionResetError):  # a reset, never a clean EOF
            _read_to_eof(s)
        assert time.monotonic() - t0 < 1.0
    row = _tunnel(a, "dead", "listen")
    assert row["errors"] == 1
    assert f"connect to 127.0.0.1:{dead} failed: Connection refused" in row["last_error"]
    assert "Connection refused" in b.log()
    # The link and the other channels are untouched.
    assert b.ctl("ping", node="a", count=2)["count"] == 2


def test_unknown_tunnel_and_bad_target_are_refused(wsnet_node_factory: NodeFactory) -> None:
    with server_thread(echo_handler) as echo:
        a, _b = _pair(wsnet_node_factory, {}, {"targets": [f"127.0.0.1:{echo.port}"]})
        p1, p2, p3 = free_port(), free_port(), free_port()
        a.ctl("addtunnel", name="nope", listen=f"127.0.0.1:{p1}", peer="b")
        a.ctl("addtunnel", name="adhoc", listen=f"127.0.0.1:{p2}", peer="b",
              target=f"127.0.0.1:{echo.port}")  # fmt: skip
        a.ctl("addtunnel", name="evil", listen=f"127.0.0.1:{p3}", peer="b",
              target="127.0.0.1:22")  # fmt: skip
        wait_until(lambda: all(_listening(a, n) for n in ("nope", "adhoc", "evil")), what="up")
        assert asyncio.run(echo_roundtrip(p2, 100_000)).ok
        for port in (p1, p3):
            # The RST may reach the client before its connect() returned: either is a reset.
            with (
                pytest.raises(ConnectionResetError),
                socket.create_connection(("127.0.0.1", port), timeout=5) as s,
            ):
                s.recv(10)
        assert "no tcp tunnel 'nope'" in _tunnel(a, "nope", "listen")["last_error"]
        assert (
            "target 127.0.0.1:22 is not in [tcp] targets"
            in _tunnel(a, "evil", "listen")["last_error"]
        )


def test_listener_follows_its_peer(wsnet_node_factory: NodeFactory) -> None:
    """Bound only while the peer is linked: released when it dies, bound again on return."""
    lport = free_port()
    with server_thread(echo_handler) as echo:
        b_tcp = {"tunnel": [{"name": "e", "listen": f"127.0.0.1:{lport}", "peer": "a"}]}
        a = wsnet_node_factory("a", plugins=["tcp"], config={
            "tcp": {"tunnel": [{"name": "e", "connect": f"127.0.0.1:{echo.port}"}]}})  # fmt: skip
        b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp"],
                               config={"tcp": b_tcp})  # fmt: skip
        wait_until(lambda: _listening(b, "e"), what="listener")
        assert asyncio.run(echo_roundtrip(lport, 10_000)).ok
        port_a = a.port
        a.kill()
        wait_until(lambda: connect_refused(lport), timeout=6, what="listener released")
        assert _tunnel(b, "e", "listen")["state"] == "waiting for peer"
        a2 = wsnet_node_factory("a", plugins=["tcp"], port=port_a, config={
            "tcp": {"tunnel": [{"name": "e", "connect": f"127.0.0.1:{echo.port}"}]}})  # fmt: skip
        wait_until(lambda: _listening(b, "e"), timeout=10, what="listener bound again")
        assert asyncio.run(echo_roundtrip(lport, 10_000)).ok
        assert a2.peers() == {"b"}


def test_pending_timeout_holds_connections_for_the_peer(wsnet_node_factory: NodeFactory) -> None:
    lport = free_port()
    with server_thread(echo_handler) as echo:
        a = wsnet_node_factory("a", plugins=["tcp"], start=False, config={
            "tcp": {"tunnel": [{"name": "e", "connect": f"127.0.0.1:{echo.port}"}]}})  # fmt: skip
        b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["tcp"], config={
            "tcp": {"pending_timeout": 8, "tunnel": [
                {"name": "e", "listen": f"127.0.0.1:{lport}", "peer": "a"}]}})  # fmt: skip
        wait_until(lambda: not connect_refused(lport), what="listener bound before the peer")

        async def late() -> Any:
            job = asyncio.ensure_future(echo_roundtrip(lport, 50_000))
            await asyncio.sleep(1.0)
            a.start()  # the peer appears while the connection waits
            return await job

        assert asyncio.run(late()).ok
        assert _tunnel(b, "e", "listen")["errors"] == 0


def test_three_node_chain_by_node_name(wsnet_node_factory: NodeFactory) -> None:
    """left → hub → right: the tunnel's peer is two links away; the hub relays."""
    lport = free_port()
    with server_thread(echo_handler) as echo:
        hub = wsnet_node_factory("hub")
        right = wsnet_node_factory(
            "right",
            listen=False,
            dial=[hub.url],
            plugins=["tcp"],
            config={"tcp": {"tunnel": [{"name": "far", "connect": f"127.0.0.1:{echo.port}"}]}},
        )
        left = wsnet_node_factory("left", listen=False, dial=[hub.url], plugins=["tcp"],
                                  config={"tcp": {"tunnel": [
                                      {"name": "far", "listen": f"127.0.0.1:{lport}",
                                       "peer": "right"}]}})  # fmt: skip
        wait_until(lambda: _listening(left, "far"), what="route to right")
        results = asyncio.run(_gather(lport, [200_000] * 20))
        assert all(r.ok for r in results)
        assert _tunnel(right, "far", "connect")["total"] == 20
        assert "tcp" not in hub.ctl("status")["services"]  # the hub only relays


async def _gather(port: int, sizes: list[int]) -> list[Any]:
    return await asyncio.gather(*(echo_roundtrip(port, n) for n in sizes))


def _kernel_max(name: str) -> int:
    """The largest buffer TCP autotuning may give one socket (the third tcp_rmem/tcp_wmem value)."""
    return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])


def test_slow_reader_does_not_slow_others_and_memory_stays_bounded(
    wsnet_node_factory: NodeFactory,
) -> None:
    """A client reading 1 KiB/s from a firehose, and a 32 MiB echo beside it on the same link."""
    fire = Firehose()
    lfire, lecho = free_port(), free_port()
    with server_thread(fire) as hose, server_thread(echo_handler) as echo:
        a, b = _pair(
            wsnet_node_factory,
            {"tunnel": [
                {"name": "hose", "listen": f"127.0.0.1:{lfire}", "peer": "b"},
                {"name": "echo", "listen": f"127.0.0.1:{lecho}", "peer": "b"},
            ]},
            {"tunnel": [
                {"name": "hose", "connect": f"127.0.0.1:{hose.port}"},
                {"name": "echo", "connect": f"127.0.0.1:{echo.port}"},
            ]},
        )  # fmt: skip
        wait_until(lambda: _listening(a, "hose") and _listening(a, "echo"), what="listeners")
        size = 32 << 20
        alone = asyncio.run(echo_roundtrip(lecho, size))
        assert alone.ok
        rss0 = {n.name: rss_kib(n.proc.pid) for n in (a, b) if n.proc}
        with socket.create_connection(("127.0.0.1", lfire), timeout=5) as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            got = 0
            t_end = time.monotonic() + 6
            beside = None
            while time.monotonic() < t_end:
                got += len(slow.recv(1024))
                if beside is None and time.monotonic() > t_end - 4:
                    beside = asyncio.run(echo_roundtrip(lecho, size))  # while the hose is held
                time.sleep(1.0)  # 1 KiB per second
            in_flight = fire.written - got
            rss1 = {n.name: rss_kib(n.proc.pid) for n in (a, b) if n.proc}
            chans = a.ctl("channels")
        assert beside is not None and beside.ok
        # "does not slow": the echo beside the stalled stream is not held back by it.
        # Generous for a loaded 2-core machine; a stalled link would take the whole 4 s window
        # or time out, and without per-channel credit the echo would wait behind the hose.
        assert beside.seconds < 3 * alone.seconds + 2.0, (alone, beside)
        # Bounded: the source could write only what the path buffers, not the gigabytes it
        # would push in 6 s if wsnet kept reading from it: the channel's window ([limits]
        # max_window = 8 MiB) plus what the kernel may hold where wsnet does not read or has
        # written: the firehose's send buffer and b's receive buffer before the credit stops
        # b, a's send buffer after it (each autotuned up to the tcp_wmem/tcp_rmem maximum:
        # 22 MiB in all with Debian's defaults; 32 MB was seen once with tcp_rmem max 32 MiB).
        path = (8 << 20) + 2 * _kernel_max("tcp_wmem") + _kernel_max("tcp_rmem") + (64 << 10)
        assert in_flight < path, f"{in_flight} bytes in flight (bound {path})"
        assert all(c["buffered"] <= 8 << 20 for c in chans), chans
        for name in rss0:
            assert rss1[name] - rss0[name] < 24 << 10, (name, rss0, rss1)


def _read_to_eof(s: socket.socket) -> None:
    while s.recv(1024):
        pass


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")
def test_iperf3_through_a_tunnel_both_ways(wsnet_node_factory: NodeFactory) -> None:
    """Real bulk traffic, 4 parallel streams each way: the races of many channels at speed."""
    srv_port, lport = free_port(), free_port()
    a, b = _one_tunnel(wsnet_node_factory, "perf", lport, srv_port)
    for direction in ([], ["-R"]):
        # A one-off server per run (-1): an iperf3 server still finishing the previous
        # test answers "busy", which is not what this test is about.
        srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(srv_port), "-B", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_until(lambda: _iperf3_listening(srv_port), what="iperf3 server")
            res = subprocess.run(
                ["iperf3", "-c", "127.0.0.1", "-p", str(lport), "-t", "2", "-P", "4", "-J",
                 *direction], capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            if srv.poll() is None:  # -1 servers exit after their test; this one did not
                srv.terminate()
            srv.wait(10)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr
        report = json.loads(res.stdout)
        assert "error" not in report, (direction, report["error"])
        assert report["end"]["sum_received"]["bytes"] > 10 << 20
    for node in (a, b):
        assert "Traceback" not in node.log(), node.log()[-3000:]
    assert b.peers() == {"a"}


def _iperf3_listening(port: int) -> bool:
    """Is something listening on ``port``, without connecting to it (that would use up -1)?"""
    out = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_far_reset_ends_a_connection_whose_client_is_not_reading(
    wsnet_node_factory: NodeFactory,
) -> None:
    """The target sends more than the client takes, then resets; the client reads nothing
    meanwhile.  The near side must end (RST) the connection at once, not wait for the
    client to read.  6 MiB: more than the near socket takes (so the near node waits for it
    to become writable) and less than a grown window (so the far node reads all of it and
    does see the target's RST; a reader paused for want of credit would not)."""
    lport = free_port()

    async def blast_then_reset(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * (6 << 20))
        await asyncio.sleep(1.0)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    with server_thread(blast_then_reset) as target:
        a, _b = _one_tunnel(wsnet_node_factory, "blast", lport, target.port)
        with socket.create_connection(("127.0.0.1", lport), timeout=5) as idle:
            idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            wait_until(lambda: _tunnel(a, "blast", "listen")["errors"] == 1, timeout=5,
                       what="the reset to end the connection")  # fmt: skip
            assert _tunnel(a, "blast", "listen")["active"] == 0
            with pytest.raises(ConnectionResetError):
                _read_to_eof(idle)
