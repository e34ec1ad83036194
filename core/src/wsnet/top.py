"""`wsnet top`: a live view of a node's links, channels and rates, as htop/iftop show theirs.

Everything comes through the shared control-API client (``status``, ``links``,
``channels``, ``dials``): the view works against any node the operator can reach with
`wsnet ctl`, with the same credentials.  Rates are the difference of the links' byte
counters between two polls.  Drawn with rich; imported only when the command runs.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .ctl import CtlClient, CtlError

# What a node's answers may not put on the operator's terminal: C0 and C1 controls (ESC
# starts colour, title and cursor sequences; 0x9b is an 8-bit CSI) and DEL.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Snapshot:
    at: float
    status: dict[str, Any]
    links: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    dials: list[dict[str, Any]]


@dataclass
class Rates:
    """Bytes per second of each link (by id) between the last two snapshots."""

    previous: Snapshot | None = None
    per_link: dict[int, tuple[float, float]] = field(default_factory=dict)

    def update(self, snap: Snapshot) -> None:
        prev = self.previous
        self.per_link = {}
        if prev is not None and snap.at > prev.at:
            dt = snap.at - prev.at
            before = {link["id"]: link for link in prev.links}
            for link in snap.links:
                old = before.get(link["id"])
                if old is not None:
                    self.per_link[link["id"]] = (
                        max(0, link["bytes_in"] - old["bytes_in"]) / dt,
                        max(0, link["bytes_out"] - old["bytes_out"]) / dt,
                    )
        self.previous = snap


def poll(ctl: CtlClient) -> Snapshot:
    snap = Snapshot(time.monotonic(), ctl.call("status"), ctl.call("links"),
                    ctl.call("channels"), ctl.call("dials"))  # fmt: skip
    rows = (snap.links, snap.channels, snap.dials)
    if not isinstance(snap.status, dict) or not all(
        isinstance(r, list) and all(isinstance(x, dict) for x in r) for r in rows
    ):
        raise CtlError(f"{ctl.url}: unexpected answer (not a wsnet node of this version?)")
    return snap


def cell(value: object) -> Text:
    """A value from the node as plain text: no rich markup, no terminal controls."""
    return Text(_CONTROLS.sub("?", "" if value is None else str(value)))


def human(n: float, unit: str = "B") -> str:
    for prefix in ("", "k", "M", "G", "T"):
        if abs(n) < 1000 or prefix == "T":
            return f"{n:.0f} {prefix}{unit}" if not prefix else f"{n:.1f} {prefix}{unit}"
        n /= 1000
    return f"{n:.1f} T{unit}"  # pragma: no cover - the loop returns


def view(snap: Snapshot, rates: Rates) -> Group:
    st = snap.status
    head = cell(
        f"wsnet top — node {st.get('node', '?')}   links {st.get('links', 0)}   "
        f"routes {st.get('routes', 0)}   channels {len(snap.channels)}"
    )
    head.stylize("bold")
    links = Table(title="links", title_justify="left", expand=False)
    for col in ("peer", "dir", "remote", "rtt ms", "ch", "in/s", "out/s", "in", "out"):
        links.add_column(col, justify="right" if col not in ("peer", "dir", "remote") else "left")
    for link in sorted(snap.links, key=lambda r: r["peer"]):
        rin, rout = rates.per_link.get(link["id"], (0.0, 0.0))
        rtt = "" if link["rtt_ms"] is None else f"{link['rtt_ms']:.2f}"
        links.add_row(cell(link["peer"]), cell(link["direction"]), cell(link["remote"]), rtt,
                      cell(link["channels"]),
                      human(rin, "B/s"), human(rout, "B/s"), human(link["bytes_in"]),
                      human(link["bytes_out"]))  # fmt: skip
    chans = Table(title="channels by service", title_justify="left")
    for col in ("service", "open", "in", "out"):
        chans.add_column(col, justify="left" if col == "service" else "right")
    count: Counter[str] = Counter()
    bytes_in: Counter[str] = Counter()
    bytes_out: Counter[str] = Counter()
    for ch in snap.channels:
        count[ch["service"]] += 1
        bytes_in[ch["service"]] += ch["bytes_in"]
        bytes_out[ch["service"]] += ch["bytes_out"]
    for service in sorted(count):
        chans.add_row(cell(service), str(count[service]), human(bytes_in[service]),
                      human(bytes_out[service]))  # fmt: skip
    parts: list[Any] = [head, links, chans]
    if snap.dials:
        dials = Table(title="dials", title_justify="left")
        for col in ("url", "state", "attempts", "last error"):
            dials.add_column(col)
        for d in snap.dials:
            dials.add_row(
                cell(d["url"]), cell(d["state"]), cell(d["attempts"]), cell(d["last_error"])
            )
        parts.append(dials)
    return Group(*parts)


def run_top(ctl: CtlClient, interval: float, iterations: int, console: Console) -> None:
    """Refresh every ``interval`` seconds; ``iterations`` > 0 stops after that many
    frames.  On a terminal the frame is redrawn in place; otherwise (a pipe, a test,
    ``--iterations``) each frame is printed below the last, so it can be read back."""
    rates = Rates()
    live = console.is_terminal and iterations == 0
    frames = 0
    with Live(console=console, auto_refresh=False, screen=False) if live else _Plain() as out:
        while iterations == 0 or frames < iterations:
            snap = poll(ctl)
            try:
                rates.update(snap)
                frame = view(snap, rates)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field missing
                raise CtlError(
                    f"{ctl.url}: unexpected answer ({type(exc).__name__}: {exc})"
                ) from None
            if isinstance(out, Live):
                out.update(frame, refresh=True)
            else:
                console.print(frame)
                console.print(Text(f"-- refresh {frames + 1}", style="dim"))
            frames += 1
            if iterations == 0 or frames < iterations:
                time.sleep(interval)


class _Plain:
    def __enter__(self) -> _Plain:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
