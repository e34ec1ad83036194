"""Per-tunnel counters: kept per connection end, never per packet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bridge import Bridge

# Why a tunnelled connection failed (wsnet_tcp_errors_total{reason}), a fixed set:
# refused with RST at the listener (its caps), no route to the peer, the channel refused
# (denied, no tunnel, too many channels), the far TCP connect failed, reset mid-stream.
REASONS = ("listener_full", "unreachable", "refused", "connect_failed", "reset")


@dataclass(slots=True)
class Counters:
    total: int = 0  # connections carried (accepted, or connected for a peer)
    refused: int = 0  # ended with an error (no peer, far connect failed, denied, reset)
    bytes_in: int = 0  # received from the link, written to TCP, by ended connections
    bytes_out: int = 0
    last_error: str = ""
    live: set[Bridge] = field(default_factory=set)
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))

    async def carry(self, bridge: Bridge) -> str:
        """Count ``bridge`` while it runs; returns why it failed ("" for an orderly end)."""
        self.started(bridge)
        error = ""
        try:
            error = await bridge.run()
        finally:
            self.ended(bridge, error)
        return error

    def started(self, bridge: Bridge) -> None:
        self.total += 1
        self.live.add(bridge)

    def ended(self, bridge: Bridge, error: str) -> None:
        self.live.discard(bridge)
        if bridge.channel is not None:
            self.bytes_in += bridge.channel.bytes_in
            self.bytes_out += bridge.channel.bytes_out
        if error:
            self.fail(error, "reset")

    def attempt_failed(self, error: str, reason: str) -> None:
        """A connection that never got to carry bytes (no peer, connect refused)."""
        self.total += 1
        self.fail(error, reason)

    def fail(self, error: str, reason: str) -> None:
        """Count a failure: ``error`` the text, ``reason`` one of REASONS."""
        self.refused += 1
        self.reasons[reason] += 1
        self.last_error = error

    def snapshot(self) -> dict[str, Any]:
        live_in = sum(b.channel.bytes_in for b in self.live if b.channel is not None)
        live_out = sum(b.channel.bytes_out for b in self.live if b.channel is not None)
        return {
            "active": len(self.live),
            "total": self.total,
            "errors": self.refused,
            "bytes_in": self.bytes_in + live_in,
            "bytes_out": self.bytes_out + live_out,
            "last_error": self.last_error,
        }
