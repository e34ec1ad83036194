"""Receive windows of one link: when to return credit, and how much (no I/O).

As h2's windows.py: one job.  Credit goes back in batches of a quarter window as the
application consumes; a channel whose reader drains a whole window within FAST_ROUND
seconds gets its window doubled (auto-tuning), and all the growth of one link stays
within ``window_budget``, shared fairly: a channel above its share (budget / channels
that grew) gives the excess back by returning less than it consumed.
"""

from __future__ import annotations

from .chstate import ChannelState
from .limits import Limits

FAST_ROUND = 0.02  # seconds: a reader that drains a window this fast is window-limited


class Windows:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.grown = 0  # sum over channels of (window - base window)
        # Channels that proved fast (grew, or would have if the budget allowed): the
        # budget is shared among them.
        self.n_tuned = 0

    def increment(self, ch: ChannelState, now: float) -> int:
        """Credit to return for ``ch.unacked`` consumed bytes (0: nothing to send yet).

        Call when ``unacked`` changed; resets ``unacked`` when it returns a batch.
        """
        if ch.unacked < max(1, ch.window // 4):
            return 0
        unacked, ch.unacked = ch.unacked, 0
        extra = self._grow(ch, unacked, now)
        if extra:
            return unacked + extra
        excess = self._excess(ch)
        if excess:
            give_back = min(excess, unacked)
            self._resize(ch, ch.window - give_back)
            return unacked - give_back
        return unacked

    def forget(self, ch: ChannelState) -> None:
        """The channel ended: its growth returns to the link's budget."""
        self._resize(ch, self.limits.window)
        if ch.tuned:
            ch.tuned = False
            self.n_tuned -= 1

    def _share(self) -> int:
        return self.limits.window_budget // max(1, self.n_tuned)

    def _excess(self, ch: ChannelState) -> int:
        base = self.limits.window
        if ch.window <= base:
            return 0
        return max(0, ch.window - base - self._share())

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
        if not ch.tuned:
            ch.tuned = True
            self.n_tuned += 1
        limits = self.limits
        extra = min(
            ch.window,
            limits.max_window - ch.window,
            limits.window_budget - self.grown,
            self._share() - (ch.window - limits.window),
        )
        if extra <= 0:
            return 0
        self._resize(ch, ch.window + extra)
        return extra

    def _resize(self, ch: ChannelState, window: int) -> None:
        base = self.limits.window
        self.grown += max(0, window - base) - max(0, ch.window - base)
        ch.window = window
