"""Password checks that cannot be turned into a lever, and htpasswd files that fail closed.

Real nodes, files made by Apache's htpasswd.  A bare GET with Basic credentials is the
probe: 426 (upgrade required) means the password was accepted, 401 refused, 429/503
refused without hashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, NodeProcess, wait_until
from wsnet.testing_run import hup
from wsnet.transport.ws.credentials import basic_authorization
from wsnet_auth_htpasswd.htpasswd import HtpasswdFile
from wsnet_auth_htpasswd.passcheck import (
    CheckRefused,
    GateSettings,
    PasswordGate,
    Penalties,
    source_key,
)

needs_htpasswd = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)
ADMIN = ("admin", "admin pw")
OPS = ("ops", "ops pw")


def htpasswd(path: Path, user: str, password: str, *flags: str) -> None:
    create = [] if path.exists() else ["-c"]
    subprocess.run(["htpasswd", "-b", *create, *flags, str(path), user, password],
                   check=True, capture_output=True, timeout=60)  # fmt: skip


def htpasswd_line(user: str, password: str, *flags: str) -> str:
    res = subprocess.run(["htpasswd", "-nb", *flags, user, password], check=True,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return res.stdout.strip() + "\n"


def node(factory: NodeFactory, users: Path, tmp: Path, **auth: Any) -> NodeProcess:
    """A listener with [auth_htpasswd] ``auth`` and a control API behind its own htpasswd."""
    ctl_users = tmp / "ctl.htpasswd"
    if not ctl_users.exists():
        htpasswd(ctl_users, *ADMIN, "-B")
        htpasswd(ctl_users, *OPS, "-B")
    config = {"auth_htpasswd": {"file": str(users), **auth},
              "listen": {"max_pending": 4096, "max_pending_per_source": 4096}}  # fmt: skip
    return factory("a", plugins=["auth_htpasswd", "log"], config=config,
                   extra_args=["--ctl-htpasswd", str(ctl_users)],
                   ctl_options=CtlOptions(*ADMIN))  # fmt: skip


async def attempt(
    http: aiohttp.ClientSession, url: str, user: str, password: str, timeout: float = 30
) -> tuple[int, dict[str, str], float]:
    """(status, headers, seconds) of one login attempt."""
    start = time.monotonic()
    headers = {"Authorization": basic_authorization(user, password)}
    async with http.get(url.replace("ws://", "http://"), headers=headers,
                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:  # fmt: skip
        await resp.read()
        return resp.status, dict(resp.headers), time.monotonic() - start


async def admin_latency(a: NodeProcess, who: tuple[str, str]) -> float:
    start = time.monotonic()
    opts = CtlOptions(*who)
    try:
        result = await asyncio.to_thread(call, a.ctlurl, "status", None, timeout=60, options=opts)
    except CtlError as exc:  # main's code: the request's deadline passed while it waited
        pytest.fail(f"ctl status as {who[0]} failed after {time.monotonic() - start:.1f}s: {exc}")
    assert result["control"] == a.ctlurl, result
    return time.monotonic() - start


async def flood_beside_admin(a: NodeProcess, users: list[str]) -> list[int]:
    """Wrong passwords for ``users`` all at once; meanwhile the admin (logged in before)
    and another control user (never before: a hash of its own) call `ctl status`."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(attempt(http, a.url, u, "wrong", 120)) for u in users]
        await asyncio.sleep(0.5)  # the flood is in: its checks are queued or running
        for who in (ADMIN, OPS):
            took = await admin_latency(a, who)
            assert took < 2.0, f"ctl status as {who[0]} took {took:.1f}s beside the flood"
        results = await asyncio.gather(*tasks)
    return [status for status, _, _ in results]


@needs_htpasswd
async def test_login_flood_for_one_user_does_not_starve_the_admin(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B", "-C", "12")
    a = node(wsnet_node_factory, users, tmp_path)
    statuses = await flood_beside_admin(a, ["alice"] * 100)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 10, "only the first few failures may cost a hash"
    assert "refused a link" in a.log() and "too many failed logins" in a.log()


@needs_htpasswd
async def test_pool_full_is_503_and_the_admin_is_not_starved(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B", "-C", "12")
    a = node(wsnet_node_factory, users, tmp_path, max_failures=100_000, workers=2, queue=4)
    statuses = await flood_beside_admin(a, [f"user{i}" for i in range(100)])
    assert set(statuses) <= {401, 503}, statuses
    assert 6 <= statuses.count(401) <= 40, statuses  # 2 hashing + 4 waiting, then others
    assert statuses.count(503) >= 50


@needs_htpasswd
async def test_unknown_users_cost_what_known_ones_do(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B", "-C", "11")
    htpasswd(users, "bob", "bob pw", "-B", "-C", "11")
    a = node(wsnet_node_factory, users, tmp_path, max_failures=100_000)
    known: list[float] = []
    unknown: list[float] = []
    async with aiohttp.ClientSession() as http:
        for i in range(7):
            for user, times in (("alice", known), (f"nobody{i}", unknown)):
                status, _, took = await attempt(http, a.url, user, f"guess {i}")
                assert status == 401
                times.append(took)
    k, u = statistics.median(known), statistics.median(unknown)
    assert max(k, u) < 2 * min(k, u), f"known {k * 1000:.0f} ms, unknown {u * 1000:.0f} ms"


@needs_htpasswd
async def test_failures_get_growing_delays_with_retry_after(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "carol", "carol pw", "-m")
    a = node(wsnet_node_factory, users, tmp_path, max_failures=2, max_delay=8)
    async with aiohttp.ClientSession() as http:
        first = [(await attempt(http, a.url, "carol", "wrong"))[0] for _ in range(2)]
        assert first == [401, 401]
        status, headers, _ = await attempt(http, a.url, "carol", "carol pw")
        assert status == 429, "refused while delayed, even with the right password"
        wait = int(headers["Retry-After"])
        assert 1 <= wait <= 2
        await asyncio.sleep(wait + 0.2)
        assert (await attempt(http, a.url, "carol", "wrong"))[0] == 401
        status, headers, _ = await attempt(http, a.url, "carol", "wrong")
        assert status == 429 and int(headers["Retry-After"]) >= 2, "the delay grew"


@needs_htpasswd
async def test_over_cap_rounds_refused_at_load_and_never_hashed(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B")
    with users.open("a") as fh:
        # Apache's tool would spend hours on these rounds: its line for 5000, rounds raised.
        line = htpasswd_line("mallory", "pw", "-5", "-r", "5000")
        fh.write(line.replace("$rounds=5000$", "$rounds=999999999$"))
    a = node(wsnet_node_factory, users, tmp_path)
    assert (f"htpasswd '{users}' line 2 (user 'mallory'): rounds=999999999 is above the cap "
            "1000000 (max_sha_rounds); this user is refused") in a.log()  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for _ in range(3):  # a pinned thread would leave the next attempts waiting
            status, _, took = await attempt(http, a.url, "mallory", "pw", timeout=20)
            assert status == 401 and took < 5
        assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 426


@needs_htpasswd
async def test_deleted_file_refuses_everyone_until_it_is_back(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B")
    a = node(wsnet_node_factory, users, tmp_path)
    async with aiohttp.ClientSession() as http:
        assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 426
        users.unlink()
        for _ in range(3):
            assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 401
        closed = f"htpasswd '{users}': No such file or directory: refusing everyone"
        assert a.log().count(closed) == 1, "one log line per change of state"
        htpasswd(users, "alice", "alice pw", "-B")
        assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 426
    assert f"htpasswd '{users}' re-read: 1 users" in a.log()


BROKEN = "bob:$5$rounds=abc$" + "x" * 43 + "\n"  # passes a shallow check, cannot be verified


@needs_htpasswd
async def test_corrupted_line_on_sighup_keeps_the_last_good_file(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B")
    a = node(wsnet_node_factory, users, tmp_path)
    with users.open("a") as fh:
        fh.write(BROKEN)
    lines = hup(a, "SIGHUP: configuration refused")
    assert f"'{users}' line 2 (user 'bob'): malformed $5$ hash: rounds= is not a number" in lines
    async with aiohttp.ClientSession() as http:
        assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 426
        assert (await attempt(http, a.url, "bob", "anything"))[0] == 401


@needs_htpasswd
async def test_unverifiable_hash_is_a_401_and_one_log_line(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    users = tmp_path / "users.htpasswd"
    htpasswd(users, "alice", "alice pw", "-B")
    a = node(wsnet_node_factory, users, tmp_path)
    await asyncio.sleep(0.05)  # a different mtime even on coarse clocks
    with users.open("a") as fh:
        fh.write(BROKEN)
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            assert (await attempt(http, a.url, "bob", "anything"))[0] == 401
        assert (await attempt(http, a.url, "alice", "alice pw"))[0] == 426
    log = a.log()
    assert "Traceback" not in log
    assert log.count("line 2 (user 'bob'): malformed $5$ hash") == 1, log
    assert "keeping the users read before until it is fixed" in log


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(p: Penalties, *keys: str) -> None:
    with p.attempt(keys) as outcome:
        outcome.append(False)


def test_penalties_grow_decay_and_bound_bursts() -> None:
    clock = Clock()
    p = Penalties(max_failures=3, max_delay=8.0, clock=clock)
    for _ in range(2):
        fail(p, "k")
    assert p.refusal("k") == 0
    fail(p, "k")
    assert p.refusal("k") == pytest.approx(1.0)  # the 3rd failure: 1 s
    clock.now += 1.0
    fail(p, "k")
    assert 1.5 < p.refusal("k") <= 2.0  # doubled (less what 1 s of decay forgave)
    clock.now += 100.0  # 8 s forgives one failure: all of them by now
    assert p.refusal("k") == 0
    with p.attempt(("k",)), p.attempt(("k",)), p.attempt(("k",)):
        assert p.refusal("k") == 1.0, "a burst beyond the failures it may still make"
    assert p.refusal("k") == 0 and p.refusal("other") == 0
    for _ in range(20):
        fail(p, "k")
    assert p.refusal("k") == pytest.approx(8.0), "never above max_delay"


def test_source_keys() -> None:
    assert source_key("192.0.2.7") == "src:192.0.2.7"
    assert source_key("::ffff:192.0.2.7") == "src:192.0.2.7"
    assert source_key("2001:db8:1:2:3:4:5:6") == source_key("2001:db8:1:2::9")
    assert source_key("2001:db8:1:2::9") != source_key("2001:db8:1:3::9")
    assert source_key("?") == "src:?"


def test_reading_resumes_after_the_file_is_back(tmp_path: Path) -> None:
    """The state lines in process: missing, then malformed (still refusing), then good."""
    from wsnet_auth_htpasswd.htpasswd import HtpasswdFile

    path = tmp_path / "u"
    path.write_text("carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    users = HtpasswdFile(str(path))
    assert users.users == ["carol"]
    path.unlink()
    assert users.users == []
    path.write_text(BROKEN)
    assert users.users == [], "a malformed file does not bring back the users of before"
    path.write_text("carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    wait_until(lambda: users.users == ["carol"], timeout=5, what="carol back")


async def test_refused_requests_do_not_push_out_the_penalties(tmp_path: Path) -> None:
    """A source that is already refused (429) names 10,001 different users, which costs it
    no hash: the penalty on the user it guessed at must survive (the table of keys is
    bounded, the least recently seen forgotten first), else a second address resets it and
    guesses again at once."""
    path = tmp_path / "users.htpasswd"
    make = ["htpasswd", "-c", "-b", "-B", "-C", "4", str(path), "inner", "right"]
    await asyncio.to_thread(subprocess.run, make, check=True, capture_output=True, timeout=30)
    gate = PasswordGate(HtpasswdFile(str(path)), GateSettings(max_failures=2), "t-hash")
    try:
        for _ in range(3):
            with contextlib.suppress(CheckRefused):
                await gate.check("inner", "guess", "192.0.2.1")
        with pytest.raises(CheckRefused):
            await gate.check("inner", "guess", "192.0.2.1")  # the source is penalised
        for i in range(10_001):  # from a second address, soon refused without hashing
            with contextlib.suppress(CheckRefused):
                await gate.check(f"nobody{i}", "x", "192.0.2.2")
        with pytest.raises(CheckRefused) as refused:
            await gate.check("inner", "guess", "192.0.2.1")
        assert refused.value.status == 429
    finally:
        gate.close()


async def test_guesses_at_a_user_do_not_lock_it_out_of_a_clean_address(tmp_path: Path) -> None:
    """Guesses at inner from one address delay that address (and inner there), not inner's
    own logins from another address: after a hub restart no good login is remembered, and
    a stranger's wrong password once a minute must not keep the real edge out."""
    path = tmp_path / "users.htpasswd"
    make = ["htpasswd", "-c", "-b", "-B", "-C", "4", str(path), "inner", "right"]
    await asyncio.to_thread(subprocess.run, make, check=True, capture_output=True, timeout=30)
    gate = PasswordGate(HtpasswdFile(str(path)), GateSettings(max_failures=2), "t-hash")
    try:
        for _ in range(4):
            with contextlib.suppress(CheckRefused):
                await gate.check("inner", "guess", "192.0.2.1")
        with pytest.raises(CheckRefused):
            await gate.check("inner", "right", "192.0.2.1")  # even the right one, from there
        assert await gate.check("inner", "right", "198.51.100.7") is True  # the real edge
        assert await gate.check("inner", "wrong", "198.51.100.8") is False  # checked, not 429
        with pytest.raises(CheckRefused):  # that address failed now: inner's delay applies
            await gate.check("inner", "other", "198.51.100.8")
    finally:
        gate.close()
