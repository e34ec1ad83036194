"""Result records, repetition, the printed table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MB = 1_000_000  # MB/s means 10**6 bytes per second, as network tools print it


@dataclass
class Result:
    """One figure of merit: the best of ``samples`` (max or min as ``higher_is_better``)."""

    name: str
    value: float
    unit: str
    ratio_to_baseline: float | None = None
    baseline: str | None = None  # name of the result the ratio divides by
    higher_is_better: bool = True
    samples: list[float] = field(default_factory=list)
    median: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # raw replies, notes
    target: str = ""  # the goal the figure is held to, e.g. ">= 0.5"; "" when it has none
    target_met: bool | None = None


def best_of(
    name: str,
    unit: str,
    samples: Sequence[float],
    *,
    higher_is_better: bool = True,
    extra: dict[str, Any] | None = None,
) -> Result:
    """Summarise repeated runs: the best is the least disturbed by other load."""
    best = max(samples) if higher_is_better else min(samples)
    return Result(
        name=name,
        value=best,
        unit=unit,
        higher_is_better=higher_is_better,
        samples=list(samples),
        median=statistics.median(samples),
        extra=extra or {},
    )


def set_ratio(result: Result, baseline: Result | None) -> None:
    """``result / baseline`` for throughput; for latency too (so > 1 means slower)."""
    if baseline is None or not baseline.value or baseline.value != baseline.value:
        return
    result.ratio_to_baseline = result.value / baseline.value
    result.baseline = baseline.name


def skipped(name: str, reason: str) -> Result:
    return Result(name=name, value=float("nan"), unit="skipped", extra={"note": reason})


def timed_loop(fn: Callable[[], object], batch: int, min_seconds: float, max_batches: int) -> float:
    """Calls of ``fn`` per second, run in batches until ``min_seconds`` or ``max_batches``."""
    calls = 0
    t0 = time.perf_counter()
    elapsed = 0.0
    for _ in range(max_batches):
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            break
    return calls / elapsed


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_avg": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fmt(value: float) -> str:
    if value != value:  # NaN: skipped
        return "-"
    if isinstance(value, int):  # a count (channels, streams)
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def _target(r: Result) -> str:
    if not r.target:
        return ""
    return f"{r.target}: {'met' if r.target_met else 'MISSED'}"


def table(results: Sequence[Result]) -> str:
    head: tuple[str, ...] = ("name", "value", "unit", "ratio_to_baseline")
    rows: list[tuple[str, ...]] = [
        (
            r.name,
            _fmt(r.value),
            r.unit,
            "" if r.ratio_to_baseline is None else f"{r.ratio_to_baseline:.3f}",
        )
        for r in results
    ]
    if any(r.target for r in results):  # a column only for runs that have targets
        head += ("target",)
        rows = [(*row, _target(r)) for row, r in zip(rows, results, strict=True)]
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            c.rjust(w) if i in (1, 3) else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def write_json(path: Path, results: Sequence[Result], options: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": machine(),
        "options": options,
        "results": [
            {**asdict(r), "value": None if r.value != r.value else r.value} for r in results
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
