"""Benchmarks between two real ``wsnet run`` processes, driven through the control API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .procs import NodePair
from .results import MB, Result, best_of, set_ratio

SPEEDTEST_TIMEOUT = 600.0  # seconds the node itself lets a speedtest run
KIB = 1024


def speedtest(
    pair: NodePair,
    sender: str,
    nbytes: int,
    channels: int = 1,
    rate: int = 0,
    timeout: float = SPEEDTEST_TIMEOUT,
) -> dict[str, Any]:
    """Run the ``speedtest`` control method on ``sender`` towards the other node.

    ``bytes`` is per channel in diag.py, so the total is split across channels.
    """
    src, dst = (pair.a, pair.b) if sender == "a" else (pair.b, pair.a)
    params = {
        "node": dst.name,
        "bytes": max(1, nbytes // channels),
        "channels": channels,
        "rate": rate,
        "verify": False,
        "timeout": timeout,
    }
    reply: dict[str, Any] = src.ctl("speedtest", params, timeout=timeout + 30)
    if not reply.get("ok"):
        failed = [p for p in reply.get("per_channel", []) if not p.get("ok")][:3]
        raise RuntimeError(f"speedtest {sender}->{dst.name} failed: {failed}")
    return reply


BULK_CASES = (
    ("bulk.b_to_a", "b", 1),
    ("bulk.a_to_b", "a", 1),
    ("bulk.b_to_a.4ch", "b", 4),
)


def bulk(pair: NodePair, nbytes: int, repeat: int, baseline: Result | None) -> list[Result]:
    results = []
    for name, sender, channels in BULK_CASES:
        replies = [speedtest(pair, sender, nbytes, channels) for _ in range(repeat)]
        rates = [r["bytes"] / r["seconds"] / MB for r in replies]
        raw = [{k: v for k, v in r.items() if k != "per_channel"} for r in replies]
        res = best_of(name, "MB/s", rates, extra={"replies": raw})
        set_ratio(res, baseline)
        results.append(res)
    pair.bulk_done = True
    return results


def ping(pair: NodePair, count: int, size: int = 64) -> dict[str, Any]:
    """diag.py ``ping`` from b to a's echo service; it reports only min/avg/max."""
    params = {"node": "a", "count": count, "size": size}
    reply: dict[str, Any] = pair.b.ctl("ping", params, timeout=120)
    return reply


def _rss_mib(pair: NodePair, which: str) -> dict[str, float]:
    return {n.name: n.rss()[which] / KIB for n in pair.nodes()}


def memory(pair: NodePair, nbytes: int, channels: int) -> list[Result]:
    results: list[Result] = []
    for node in pair.nodes():
        idle = pair.idle_rss[node.name]["VmRSS"] / KIB
        results.append(Result(f"memory.{node.name}.idle", idle, "MiB", higher_is_better=False))
    note = "after the bulk benchmarks of this run"
    if not pair.bulk_done:
        speedtest(pair, "b", nbytes)
        note = f"after one {nbytes}-byte speedtest b->a (bulk was not run)"
    now, peak = _rss_mib(pair, "VmRSS"), _rss_mib(pair, "VmHWM")
    for node in pair.nodes():
        extra = {"note": note, "peak_mib": peak[node.name]}
        results.append(
            Result(
                f"memory.{node.name}.after_bulk",
                now[node.name],
                "MiB",
                higher_is_better=False,
                extra=extra,
            )
        )
        results.append(
            Result(f"memory.{node.name}.peak", peak[node.name], "MiB", higher_is_better=False)
        )
    results.extend(concurrent_channels(pair, channels))
    return results


def _link_channels(pair: NodePair) -> dict[str, int]:
    return {n.name: sum(int(link["channels"]) for link in n.ctl("links")) for n in pair.nodes()}


def concurrent_channels(pair: NodePair, total: int, hold: int = 4) -> list[Result]:
    """Hold ``total`` stream channels open at once and weigh them.

    speedtest allows 256 channels per call, so several calls run side by side.
    Each sends ``hold`` bytes to a sink reading 1 byte/s, so every channel stays
    open about ``hold`` seconds while carrying almost no buffered data: the RSS
    growth is the cost of the channels themselves.
    """
    per_call = 250
    calls = [min(per_call, total - i) for i in range(0, total, per_call)]
    before = {n.name: n.rss()["VmRSS"] for n in pair.nodes()}
    errors: list[str] = []

    def one(n: int) -> Callable[[], None]:
        def run() -> None:
            try:
                speedtest(pair, "b", hold * n, channels=n, rate=1, timeout=60)
            except Exception as exc:  # reported below, the thread must not die silently
                errors.append(f"{type(exc).__name__}: {exc}")

        return run

    threads = [threading.Thread(target=one(n), daemon=True) for n in calls]
    for t in threads:
        t.start()
    best: dict[str, Any] = {"open": {"a": 0, "b": 0}, "rss": dict(before)}
    deadline = time.monotonic() + 120
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        try:
            counts = _link_channels(pair)
            rss = {n.name: n.rss()["VmRSS"] for n in pair.nodes()}
        except Exception:  # a busy node may miss a poll; the next one counts
            time.sleep(0.2)
            continue
        if sum(counts.values()) >= sum(best["open"].values()):
            best = {"open": counts, "rss": rss}
        time.sleep(0.2)
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 1)
    if errors:
        raise RuntimeError(f"concurrent channels: {errors[:3]}")
    results = []
    for name in ("a", "b"):
        opened = best["open"][name]
        grown = (best["rss"][name] - before[name]) / KIB
        extra = {"requested": total, "rss_before_kib": before[name], "rss_kib": best["rss"][name]}
        results.append(Result(f"channels.{name}.open", opened, "channels", extra=extra))
        results.append(
            Result(
                f"channels.{name}.rss_growth",
                grown,
                "MiB",
                higher_is_better=False,
                extra=extra,
            )
        )
        if opened:
            per = (best["rss"][name] - before[name]) / opened
            results.append(
                Result(f"channels.{name}.per_channel", per, "KiB", higher_is_better=False)
            )
    return results
