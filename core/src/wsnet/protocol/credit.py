"""Receive windows of one link: when to return credit, and how much (no I/O).

As h2's windows.py: one job.  Credit goes back in batches of a quarter window as the
application consumes; a channel whose reader drains a whole window within FAST_ROUND
seconds gets its window doubled (auto-tuning), and all the growth of one link stays
within ``window_budget``, shared fairly: no channel's window passes its part of the
budget (the budget divided among the channels that moved data in the last second), and
a channel above it gives the excess back by returning less than it consumed.  A
channel that grew while it was alone thus shrinks as others become busy, and one that
starts later is not shut out (with a thousand busy streams, the windows that grew early
made a few streams four times faster than the rest: docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from .chstate import ChannelState
from .limits import Limits

FAST_ROUND = 0.02  # seconds: a reader that drains a window this fast is window-limited
ACTIVE_FOR = 1.0  # seconds: a channel that returned credit this recently shares the budget
RECOUNT = 0.1  # seconds between two counts of the active channels (a scan of them all)


class Windows:
    def __init__(self, limits: Limits, channels: Mapping[int, ChannelState]) -> None:
        self.limits = limits
        self.channels = channels  # the session's, to count the active ones
        self.grown = 0  # sum over channels of (window - base window)
        self._active = 1
        self._counted_at = float("-inf")

    def increment(self, ch: ChannelState, now: float) -> int:
        """Credit to return for ``ch.unacked`` consumed bytes (0: nothing to send yet).

        Call when ``unacked`` changed; resets ``unacked`` when it returns a batch.
        """
        if ch.unacked < max(1, ch.window // 4):
            return 0
        unacked, ch.unacked = ch.unacked, 0
        ch.active_at = now
        extra = self._grow(ch, unacked, now)
        if extra:
            return unacked + extra
        excess = self._excess(ch, now)
        if excess:
            give_back = min(excess, unacked)
            self._resize(ch, ch.window - give_back)
            return unacked - give_back
        return unacked

    def forget(self, ch: ChannelState) -> None:
        """The channel ended: its growth returns to the link's budget."""
        self._resize(ch, self.limits.window)
        self._counted_at = float("-inf")  # one fewer to share with

    def _share(self, now: float) -> int:
        """Growth one channel may have: its part of the budget (the budget over the
        channels active now) beyond the base window; 0 when many share the link, since
        their base windows together already fill it."""
        if now - self._counted_at >= RECOUNT:
            self._counted_at = now
            self._active = sum(1 for c in self.channels.values()
                               if c.stream and now - c.active_at < ACTIVE_FOR)  # fmt: skip
        part = self.limits.window_budget // max(1, self._active)
        return max(0, part - self.limits.window)

    def _excess(self, ch: ChannelState, now: float) -> int:
        base = self.limits.window
        if ch.window <= base:
            return 0
        return max(0, ch.window - base - self._share(now))

    def _grow(self, ch: ChannelState, unacked: int, now: float) -> int:
        """Extra credit that doubles ``ch``'s window when its reader keeps up (else 0).

        The credit loop (DATA out, WINDOW back) takes a while across processes; a window
        smaller than rate x that delay caps a fast stream.  Growing only for readers that
        drain a whole window within FAST_ROUND keeps slow readers at the initial window.
        """
        if not ch.round_bytes:
            ch.round_start = now
        ch.round_bytes += unacked
        if ch.round_bytes < ch.window:
            return 0
        fast = now - ch.round_start < FAST_ROUND
        ch.round_bytes, ch.round_start = 0, now
        if not fast:
            return 0
        limits = self.limits
        extra = min(
            ch.window,
            limits.max_window - ch.window,
            limits.window_budget - self.grown,
            self._share(now) - (ch.window - limits.window),
        )
        if extra <= 0:
            return 0
        self._resize(ch, ch.window + extra)
        return extra

    def _resize(self, ch: ChannelState, window: int) -> None:
        base = self.limits.window
        self.grown += max(0, window - base) - max(0, ch.window - base)
        ch.window = window
