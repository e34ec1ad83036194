"""Password checks that cannot be turned into a lever against the node.

A password hash costs a worker thread up to a second.  Left to the default executor, 100
concurrent wrong passwords for one bcrypt user made everything else that uses it (the
control API's own password checks among them) wait for tens of seconds.  So:

- ``HashPool``: hashing runs in a small pool of its own, with a bounded queue; when the
  queue is full a new attempt is refused at once (503), never queued without bound.  The
  control API has a pool of its own, so link logins cannot starve the admin.
- ``Penalties``: failed attempts are counted per source address (IPv6: per /64) and per
  user name; beyond ``max_failures`` each failure sets a delay that doubles (1 s, 2 s, 4 s
  ... up to ``max_delay``) during which that source, or that user from a source that has
  failed too, is refused at once (429 with Retry-After), and one failure is forgotten
  every ``max_delay`` seconds.  Attempts in
  flight count too, so a burst cannot slip in before the first failure is known.
- A user whose exact credentials already succeeded since the file last changed skips both
  (``HtpasswdFile.cached``): an attack on a user's name does not lock out that user's
  running links when they reconnect.

Generic rate limiters (``limits``, ``pyrate-limiter``) count hits per window; what is
needed here is a penalty that grows with each failure, decays, counts attempts in flight
and is bounded in memory, so it is this small class
(plugins/auth_htpasswd/tests/test_password_checks.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from .htpasswd import HtpasswdFile

T = TypeVar("T")
_MAX_KEYS = 10_000  # sources and user names remembered; the least recently seen go first


@dataclass(frozen=True, slots=True)
class GateSettings:
    workers: int = 2  # threads that hash at once
    queue: int = 16  # attempts that may wait for a thread; one more is refused (503)
    max_failures: int = 5  # failures per source and per user before delays begin
    max_delay: float = 60.0  # the longest delay; also: one failure forgotten per this long


class CheckRefused(Exception):
    """Refused without hashing: ``status`` 429 (too many failures) or 503 (pool full)."""

    def __init__(self, reason: str, status: int, retry_after: float) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class HashPool:
    """A ThreadPoolExecutor of ``workers`` threads with at most ``queue`` jobs waiting."""

    def __init__(self, name: str, workers: int, queue: int) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._limit = workers + queue
        self._busy = 0  # submitted and not finished (a cancelled await does not end a hash)
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._busy >= self._limit:
                raise CheckRefused("too many password checks at once, try again", 503, 1)
            self._busy += 1
        try:
            fut: Future[T] = self._pool.submit(fn, *args)
        except BaseException:
            self._done(None)
            raise
        fut.add_done_callback(self._done)
        return await asyncio.wrap_future(fut)

    def _done(self, _: object) -> None:
        with self._lock:
            self._busy -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class _Score:
    failures: float = 0.0  # decays: one forgotten per ``forgive`` seconds
    at: float = 0.0  # when ``failures`` was last brought up to date
    until: float = 0.0  # refused before this time
    inflight: int = 0


class Penalties:
    """Failure counts with growing delays, per key (a source, a user), bounded in memory."""

    def __init__(self, max_failures: int, max_delay: float,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.free, self.max_delay, self.clock = max_failures, max_delay, clock
        self._scores: OrderedDict[str, _Score] = OrderedDict()

    def _get(self, key: str, now: float) -> _Score:
        score = self._scores.pop(key, None) or _Score(at=now)
        score.failures = max(0.0, score.failures - (now - score.at) / self.max_delay)
        score.at = now
        self._scores[key] = score  # the most recently seen last
        while len(self._scores) > _MAX_KEYS:
            self._scores.popitem(last=False)
        return score

    def failed(self, key: str) -> bool:
        """Has ``key`` failures not yet forgiven?"""
        score = self._scores.get(key)
        return score is not None and self._get(key, self.clock()).failures > 0

    def refusal(self, key: str, *, delay: bool = True) -> float:
        """Seconds to wait before ``key`` may try again; 0: it may try now.  Without
        ``delay`` only the burst limit (attempts in flight) applies, not the penalty."""
        if key not in self._scores:
            # Not remembered: nothing to wait for, and nothing stored, so that requests
            # refused at once (429) cannot fill the table and push out the keys that are
            # being penalised (a locked source naming 10,000 users would reset them all).
            return 0.0
        now = self.clock()
        score = self._get(key, now)
        if delay and now < score.until:
            return score.until - now
        if score.inflight >= max(1, self.free - int(score.failures)):
            return 1.0  # a burst beyond the failures it may still make
        return 0.0

    @contextmanager
    def attempt(self, keys: tuple[str, ...]) -> Iterator[list[bool]]:
        """Counts the keys' attempt in flight; the caller appends True when it succeeded."""
        now = self.clock()
        for key in keys:
            self._get(key, now).inflight += 1
        outcome: list[bool] = []
        try:
            yield outcome
        finally:
            now = self.clock()
            for key in keys:
                score = self._get(key, now)
                score.inflight -= 1
                if outcome == [False]:
                    self._fail(score, now)

    def _fail(self, score: _Score, now: float) -> None:
        score.failures += 1
        over = math.ceil(score.failures) - self.free  # a failure partly forgiven still counts
        if over >= 0:
            score.until = now + min(self.max_delay, 2.0 ** min(over, 60))


def source_key(address: str) -> str:
    """A source's key: its IPv4 address, or the /64 of an IPv6 one (one host's share)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return f"src:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"src:{ip.ipv4_mapped}"
        return f"src:{ipaddress.ip_network((ip, 64), strict=False)}"
    return f"src:{ip}"


class PasswordGate:
    """HTTP Basic credentials against an htpasswd file, through a pool and the penalties."""

    def __init__(self, users: HtpasswdFile, settings: GateSettings, name: str) -> None:
        self.users, self.settings = users, settings
        self.pool = HashPool(name, settings.workers, settings.queue)
        self.penalties = Penalties(settings.max_failures, settings.max_delay)

    async def check(self, user: str, password: str, source: str) -> bool:
        """True: the password is right; False: wrong (or unknown user); CheckRefused:
        not checked now (too many failures from this source or for this user, or busy)."""
        if self.users.cached(user, password):
            return True
        src, name = source_key(source), f"user:{user}"
        keys = (src, name)
        # A user's delay holds back only sources that failed themselves: guesses at a
        # name from elsewhere must not lock its owner out of a clean address (its edges
        # reconnecting after a restart, when no good login is remembered), while a
        # guessing source meets both delays.  A clean source still meets the burst limit.
        user_delay = self.penalties.failed(src)
        wait = max(self.penalties.refusal(src), self.penalties.refusal(name, delay=user_delay))
        if wait > 0:
            raise CheckRefused("too many failed logins, try again later", 429, wait)
        with self.penalties.attempt(keys) as outcome:
            ok = await self.pool.run(self.users.verify, user, password)
            outcome.append(ok)
        return ok

    def close(self) -> None:
        self.pool.close()
