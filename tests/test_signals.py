"""Signals of `wsnet run`, real processes on loopback.

SIGTERM/SIGINT: every link is closed with 1001 and "node NAME shutting down", also while a
tunnel carries traffic both ways (the peer saw 1006 in 2-4 of 12 tries), within [node]
shutdown_grace.  SIGHUP: the config file is read again and what can change is applied;
a bad file changes nothing; the node and its links stay up (it used to exit with 129).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from wsnet import tomlw
from wsnet.ctl import CtlError
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_run import hup
from wsnet.testing_tcp import echo_handler, server_thread

DOWN = re.compile(r"link \d+ down: (\S+): (.*) \(code (\d+)\)")
TRIES = 10  # per direction: 20 in all


def pump(port: int, stop: threading.Event) -> None:
    """One client that writes and reads through the tunnel as fast as it can until stop."""
    block = os.urandom(1 << 16)
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    sock.settimeout(5)

    def drain() -> None:
        try:
            while sock.recv(1 << 16):
                pass
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        while not stop.is_set():
            sock.sendall(block)
    except OSError:
        pass  # the tunnel went away with the node: expected
    finally:
        sock.close()
        reader.join(10)


@contextmanager
def traffic(port: int, clients: int = 8) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=pump, args=(port, stop), daemon=True) for _ in range(clients)
    ]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(15)


def tunnels(name: str, role: str, address: str, peer: str = "") -> dict[str, Any]:
    entry = {"name": name, role: address} | ({"peer": peer} if peer else {})
    return {"tcp": {"tunnel": [entry]}}


def listening(node: NodeProcess, name: str) -> bool:
    return any(t["name"] == name and t["state"] == "listening" for t in node.ctl("tunnels"))


def down_lines(node: NodeProcess, since: int) -> list[tuple[str, str, int]]:
    return [(m[1], m[2], int(m[3])) for m in DOWN.finditer(node.log()[since:])]


def stop_under_load(victim: NodeProcess, observer: NodeProcess, lport: int, sig: int) -> None:
    """Traffic through the tunnel, then ``sig`` to the victim: 1001 and its reason."""
    mark = len(observer.log())
    with traffic(lport):
        time.sleep(0.4)
        victim.send_signal(sig)
        assert victim.proc is not None
        assert victim.proc.wait(timeout=15) == 0, victim.log()
    seen = wait_until(lambda: down_lines(observer, mark), timeout=10, what="link down")
    reason = f"node {victim.name} shutting down"
    assert seen[0] == (victim.name, reason, 1001), observer.log()[mark:]
    assert (observer.name, reason, 1001) in down_lines(victim, 0), victim.log()


def test_sigterm_under_load_closes_with_1001_20_of_20(wsnet_node_factory: NodeFactory) -> None:
    """10 times the dialling node is stopped, 10 times the listening one."""
    lport_a, lport_b, hub_port = free_port(), free_port(), free_port()
    with server_thread(echo_handler) as echo:
        connect = tunnels("t", "connect", f"127.0.0.1:{echo.port}")
        a = wsnet_node_factory(
            "a",
            plugins=["tcp"],
            port=hub_port,
            config=tunnels("t", "listen", f"127.0.0.1:{lport_a}", "b"),
        )
        for _ in range(TRIES):  # b dials a and is stopped
            b = wsnet_node_factory("b", plugins=["tcp"], listen=False, dial=[a.url],
                                   config=connect)  # fmt: skip
            wait_until(lambda: listening(a, "t"), what="a's tunnel listener (b is up)")
            stop_under_load(b, a, lport_a, signal.SIGTERM)
        a.stop()
        b = wsnet_node_factory(
            "b",
            plugins=["tcp"],
            listen=False,
            dial=[a.url],
            config=tunnels("t", "listen", f"127.0.0.1:{lport_b}", "a"),
        )
        for _ in range(TRIES):  # a listens for b and is stopped
            a = wsnet_node_factory("a", plugins=["tcp"], port=hub_port, config=connect)
            wait_until(lambda: listening(b, "t"), what="b's tunnel listener (a is up)")
            stop_under_load(a, b, lport_b, signal.SIGTERM)


def test_sigint_is_a_clean_stop_too(wsnet_node_factory: NodeFactory) -> None:
    lport = free_port()
    with server_thread(echo_handler) as echo:
        a = wsnet_node_factory(
            "a", plugins=["tcp"], config=tunnels("t", "listen", f"127.0.0.1:{lport}", "b")
        )
        b = wsnet_node_factory(
            "b",
            plugins=["tcp"],
            listen=False,
            dial=[a.url],
            config=tunnels("t", "connect", f"127.0.0.1:{echo.port}"),
        )
        wait_until(lambda: listening(a, "t"), what="a's tunnel listener")
        stop_under_load(a, b, lport, signal.SIGINT)  # fmt: skip


def test_shutdown_grace_bounds_a_stuck_peer(wsnet_node_factory: NodeFactory) -> None:
    """The peer stops reading (SIGSTOP) with data in flight: the node still exits, within
    its grace and a little more, instead of waiting on the full socket."""
    lport = free_port()
    with server_thread(echo_handler) as echo:
        a = wsnet_node_factory(
            "a",
            plugins=["tcp"],
            config={
                "node": {"shutdown_grace": 1.0},
                **tunnels("t", "listen", f"127.0.0.1:{lport}", "b"),
            },
        )
        b = wsnet_node_factory(
            "b",
            plugins=["tcp"],
            listen=False,
            dial=[a.url],
            config=tunnels("t", "connect", f"127.0.0.1:{echo.port}"),
        )
        wait_until(lambda: listening(a, "t"), what="a's tunnel listener")  # fmt: skip
        with traffic(lport):
            time.sleep(0.4)
            b.send_signal(signal.SIGSTOP)
            try:
                time.sleep(0.5)  # a's socket to b fills up
                t0 = time.monotonic()
                a.send_signal(signal.SIGTERM)
                assert a.proc is not None
                assert a.proc.wait(timeout=15) == 0, a.log()
                elapsed = time.monotonic() - t0
            finally:
                b.send_signal(signal.SIGCONT)
    assert elapsed < 1.0 + 3.0, f"took {elapsed:.1f}s with shutdown_grace = 1"
    assert "SIGTERM: closing links (grace 1s)" in a.log()


# ---------------------------------------------------------------------------- SIGHUP


def sha_line(user: str, password: str) -> str:
    import hashlib

    return f"{user}:{{SHA}}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def upgrade_status(node: NodeProcess, user: str, password: str) -> int:
    """HTTP status of a plain GET with Basic credentials at the link path: 426 when the
    credentials are accepted (then the upgrade is missing), 401 when refused."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(node.url.replace("ws://", "http://"),
                                 headers={"Authorization": f"Basic {token}"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def rewrite(node: NodeProcess, **sections: Any) -> None:
    """The node's config file with ``sections`` replaced (None: removed)."""
    import tomllib

    raw = tomllib.loads(node.config_path.read_text())
    for name, value in sections.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    node.config_path.write_text(tomlw.dumps(raw))


def link_ids(node: NodeProcess) -> dict[str, int]:
    return {link["peer"]: link["id"] for link in node.ctl("links")}


def test_sighup_applies_htpasswd_tunnels_and_dials_keeps_links(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users1, users2 = tmp_path / "users1", tmp_path / "users2"
    users1.write_text(sha_line("alice", "one") + "\n")
    users2.write_text(sha_line("bob", "two") + "\n")
    grants = {"principal": {"alice": {"claim": ["b"], "open": ["*"]}}}  # alice links as "b"
    config = {"auth_htpasswd": {"file": str(users1)}, "authz": grants}
    a = wsnet_node_factory("a", plugins=["tcp", "auth_htpasswd"], config=config)
    b = wsnet_node_factory("b", listen=False, plugins=["tcp"])
    c = wsnet_node_factory("c", plugins=["tcp"])
    pw = tmp_path / "pw"
    pw.write_text("one\n")
    rewrite(b, dial=[{"url": a.url, "user": "alice", "password_file": str(pw)}])
    hup(b, "SIGHUP: done")
    wait_until(lambda: "a" in b.peers(), what="b dialled a after SIGHUP")
    before = link_ids(a)
    assert upgrade_status(a, "alice", "one") == 426
    assert upgrade_status(a, "bob", "two") == 401

    # Another htpasswd file: bob may link, alice's link stays (it is authenticated).
    rewrite(a, auth_htpasswd={"file": str(users2)})
    log = hup(a, "SIGHUP: done")
    assert f"[auth_htpasswd] file '{users1}' -> '{users2}' (1 users)" in log
    assert upgrade_status(a, "bob", "two") == 426
    assert upgrade_status(a, "alice", "one") == 401
    # The same file, edited (a new inode, as editors write): read again at once.
    fresh = tmp_path / "users2.new"
    fresh.write_text(sha_line("bob", "three") + "\n")
    os.replace(fresh, users2)
    hup(a, "SIGHUP: done")
    assert upgrade_status(a, "bob", "three") == 426

    # A tunnel added, then removed; a dial entry added: links up all along.
    rewrite(a, tcp={"tunnel": [{"name": "web", "connect": "127.0.0.1:9"}]},
            dial=[{"url": c.url}])  # fmt: skip
    log = hup(a, "SIGHUP: done")
    assert "tcp tunnel web (connect 127.0.0.1:9) added" in log
    assert "[[dial]] " + c.url + " added" in log
    assert [t["name"] for t in a.ctl("tunnels")] == ["web"]
    wait_until(lambda: "c" in a.peers(), what="a dialled c")
    rewrite(a, tcp=None, dial=None)
    log = hup(a, "SIGHUP: done")
    assert "tcp tunnel web (connect) removed" in log
    assert a.ctl("tunnels") == []
    wait_until(lambda: "c" not in a.peers(), what="a's link to c closed")
    assert "down: a: dial entry removed (SIGHUP) (code 1000)" in c.log()
    assert link_ids(a)["b"] == before["b"], "the link from b was not kept"


def test_sighup_refuses_a_bad_file_and_keeps_running(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a", plugins=["tcp"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "b" in a.peers(), what="link b -> a")
    links = link_ids(a)
    good = a.config_path.read_text()
    a.config_path.write_text(good + "\n[tcp]\npending_timeout = nan\n")
    log = hup(a, "configuration refused")
    assert (f"SIGHUP: configuration refused, nothing changed: {a.config_path}: [tcp] "
            "pending_timeout: expected seconds >= 0") in log  # fmt: skip
    a.config_path.write_text(good.replace("[node]", "[node]\nbogus = 1", 1))
    assert "[node] bogus: unknown key" in hup(a, "configuration refused")
    a.config_path.write_bytes(b"\xff\xfe")
    assert "not UTF-8 text" in hup(a, "configuration refused")
    # Values that only a restart changes: logged, the old ones kept.
    port = a.port
    a.config_path.write_text(good.replace(f"port = {port}", f"port = {free_port()}", 1))
    log = hup(a, "SIGHUP: done")
    assert f"[listen] port {port} -> " in log and "needs a restart" in log
    assert a.ctl("status")["listen"] == a.url
    assert link_ids(a) == links
    assert a.proc is not None and a.proc.poll() is None
    assert b.proc is not None and b.proc.poll() is None


def test_sighup_applies_authz_grants(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a", config={"authz": {"default": "deny"}})
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "a" in b.peers(), what="link b -> a")
    with pytest.raises(CtlError, match="may not open 'echo'"):
        b.ctl("ping", node="a", count=1)
    rewrite(a, authz={"default": "deny", "principal": {"anonymous": {"open": ["echo"]}}})
    assert "[authz.principal.anonymous] added" in hup(a, "SIGHUP: done")
    assert b.ctl("ping", node="a", count=1)["node"] == "a"
