"""The forwarding database of the learning switch: MAC -> port, with ageing.

Pure logic with an injectable clock, so learning, moves and ageing are tested
without a network.  Keys are 6-byte MAC addresses as ``bytes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")

DEFAULT_AGEING = 300.0
DEFAULT_MAX_ENTRIES = 16384


@dataclass(frozen=True, slots=True)
class FdbEntry(Generic[P]):
    mac: bytes
    port: P
    age: float  # seconds since last seen


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class Fdb(Generic[P]):
    """MAC learning table.  A full table stops learning new MACs (they are flooded)."""

    def __init__(
        self,
        ageing: float = DEFAULT_AGEING,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ageing = ageing
        self.max_entries = max_entries
        self.clock = clock
        self.moves = 0
        self.full_drops = 0
        self._table: dict[bytes, tuple[P, float]] = {}

    def learn(self, mac: bytes, port: P) -> None:
        """Record that ``mac`` was seen on ``port`` (a MAC seen elsewhere moves there)."""
        old = self._table.get(mac)
        if old is None and len(self._table) >= self.max_entries:
            self.expire()
            if len(self._table) >= self.max_entries:
                self.full_drops += 1
                return
        if old is not None and old[0] is not port:
            self.moves += 1
        self._table[mac] = (port, self.clock())

    def lookup(self, mac: bytes) -> P | None:
        entry = self._table.get(mac)
        if entry is None:
            return None
        if self.clock() - entry[1] > self.ageing:
            del self._table[mac]
            return None
        return entry[0]

    def remove_port(self, port: P) -> int:
        """Forget every MAC learnt on ``port`` (it went away)."""
        gone = [mac for mac, (p, _) in self._table.items() if p is port]
        for mac in gone:
            del self._table[mac]
        return len(gone)

    def expire(self) -> int:
        now = self.clock()
        old = [mac for mac, (_, seen) in self._table.items() if now - seen > self.ageing]
        for mac in old:
            del self._table[mac]
        return len(old)

    def entries(self) -> list[FdbEntry[P]]:
        self.expire()
        now = self.clock()
        return [FdbEntry(mac, port, now - seen) for mac, (port, seen) in self._table.items()]

    def __len__(self) -> int:
        return len(self._table)
