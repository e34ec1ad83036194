"""Warnings about connections refused in bursts: one line per period, with the count.

A flood of refused connections must be visible in the log, but not as one line per
connection: the first one is logged at once, the rest of the period summed up at its end.
"""

from __future__ import annotations

import asyncio
import logging
import time


class Throttled:
    """One warning per ``name`` (a listener) and kind at most every ``every`` seconds; the
    events in between are summed into the next line, which comes when that period ends."""

    def __init__(self, logger: logging.Logger, name: str, every: float) -> None:
        self.log, self.name, self.every = logger, name, every
        self._next: dict[str, float] = {}
        self._held: dict[str, tuple[int, str, str]] = {}

    def note(self, kind: str, verb: str, reason: str, count: int = 1) -> None:
        """E.g. ("fds", "refused with RST", "out of file descriptors (...)", 3)."""
        now = time.monotonic()
        if now >= self._next.get(kind, 0.0):
            self._emit(kind, count, verb, reason, now, "")
            return
        held = self._held.get(kind, (0, verb, reason))[0]
        if not held:
            asyncio.get_running_loop().call_later(self._next[kind] - now, self._flush, kind)
        self._held[kind] = (held + count, verb, reason)

    def _flush(self, kind: str) -> None:
        count, verb, reason = self._held.pop(kind, (0, "", ""))
        if count:
            self._emit(kind, count, verb, reason, time.monotonic(), "more ")

    def _emit(self, kind: str, count: int, verb: str, reason: str, now: float, more: str) -> None:
        self._next[kind] = now + self.every
        plural = "" if count == 1 else "s"
        window = f" in the last {self.every:g}s" if more else ""
        self.log.warning(
            "%s: %d %sconnection%s %s%s: %s", self.name, count, more, plural, verb, window, reason
        )


class Repeated:
    """A failure that may come with every event (an observer's bug, which a peer can set
    off with every channel it opens): its traceback the first time, then one line per
    ``every`` seconds and key with the count since, so a log cannot be flooded through it."""

    def __init__(self, logger: logging.Logger, every: float) -> None:
        self.log, self.every = logger, every
        self._state: dict[object, tuple[int, float]] = {}  # key -> (failures held, next line)

    def failed(self, key: object, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        held, next_at = self._state.get(key, (0, 0.0))
        if now < next_at:
            self._state[key] = (held + 1, next_at)
            return
        first = next_at == 0.0
        more = "" if first else f" ({held + 1} times in the last {self.every:g}s)"
        self.log.error("%s%s: %s: %s", what, more, type(exc).__name__, exc,
                       exc_info=exc if first else None)  # fmt: skip
        self._state[key] = (0, now + self.every)
