"""Smoke tests of the benchmark suite: `python -m bench --only GROUP` end to end, tiny sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = [sys.executable, "-m", "bench"]

CODEC_NAMES = {
    "codec.encode_frame.1k",
    "codec.decode_message.1k",
    "codec.encode_frame.16k",
    "codec.decode_message.16k",
    "codec.session.16k",
    "codec.session.1m",
}


def test_quick_codec_run_writes_positive_results(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [*BENCH, "--quick", "--only", "codec", "--repeat", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["machine"]["cpu_count"] >= 1
    assert doc["machine"]["python"]
    results = {r["name"]: r for r in doc["results"]}
    assert set(results) >= CODEC_NAMES, sorted(results)
    assert all(name.startswith("codec.") for name in results)
    for r in results.values():
        assert r["value"] > 0, r
        assert r["samples"] and all(s > 0 for s in r["samples"]), r
    assert results["codec.session.16k"]["unit"] == "MB/s"
    assert results["codec.encode_frame.1k"]["unit"] == "frames/s"
    # The table names every result that the JSON holds.
    for name in CODEC_NAMES:
        assert name in proc.stdout


def test_quick_tunnels_run_measures_wsnet_and_names_missing_peers(tmp_path: Path) -> None:
    """The tunnels group end to end; peers absent here, so their rows must say why."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [*BENCH, "--quick", "--only", "tunnels", "--repeat", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "WSNET_BENCH_PEERS": str(tmp_path / "no-peers")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    for fig in ("one_stream", "16_streams", "setup_rate"):
        wsnet = results[f"tunnels.wsnet.{fig}"]
        assert wsnet["value"] > 0 and 0 < wsnet["ratio_to_baseline"] < 2, wsnet
    idle = results["tunnels.wsnet.idle_memory"]
    assert idle["unit"] == "KiB/conn" and idle["extra"]["held"] == 200, idle
    for peer in ("websockify", "tow"):
        row = results[f"tunnels.{peer}.one_stream"]
        assert "not installed: run bench/peers/" in row["extra"]["note"], row


def _streams_run(tmp_path: Path, counts: str, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [*BENCH, "--only", "streams", "--stream-counts", counts, "--stream-seconds", "0.4",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, {r["name"]: r for r in json.loads(out.read_text())["results"]}


def _check_stream_rows(results: dict[str, Any], path: str, n: int) -> None:
    total = results[f"streams.{path}.{n}.total"]
    assert total["unit"] == "MB/s" and total["value"] > 0, total
    assert total["extra"]["streams"] == n and total["extra"]["seconds"] > 0.3, total
    fair = results[f"streams.{path}.{n}.min_max"]
    assert 0 <= fair["value"] <= 1 and fair["target"] == ">= 0.5", fair
    assert fair["target_met"] == (fair["value"] >= 0.5), fair
    zero = results[f"streams.{path}.{n}.zero"]
    assert 0 <= zero["value"] <= n and zero["target_met"] == (zero["value"] == 0), zero
    if n == 1:
        assert fair["value"] == 1, fair
    elif f"streams.{path}.1.total" in results:  # of_one needs the one-stream run
        assert results[f"streams.{path}.{n}.of_one"]["value"] > 0
    if path == "tcp":
        assert total["ratio_to_baseline"] is None, total
    else:
        assert total["baseline"] == f"streams.tcp.{n}.total" and total["ratio_to_baseline"] > 0
        rss = results[f"streams.{path}.{n}.peak_rss"]
        assert 5 < rss["value"] < 3072 and rss["target_met"], rss


def test_streams_run_measures_tcp_and_wsnet_and_names_missing_haproxy(tmp_path: Path) -> None:
    """The streams group end to end with 1 and 16 streams; haproxy made absent on purpose."""
    stdout, results = _streams_run(
        tmp_path, "1,16", {"WSNET_BENCH_HAPROXY": str(tmp_path / "no-haproxy")}
    )
    for path in ("tcp", "wsnet"):
        for n in (1, 16):
            _check_stream_rows(results, path, n)
    for fig in ("total", "min_max", "zero", "of_one", "peak_rss"):
        row = results[f"streams.haproxy.16.{fig}"]
        assert row["unit"] == "skipped", row
        assert "haproxy not installed: run bench/peers/haproxy.sh" in row["extra"]["note"], row
    assert "streams.wsnet.16.min_max" in stdout and ">= 0.5: " in stdout


def test_streams_run_measures_chained_haproxy(tmp_path: Path) -> None:
    _, results = _streams_run(tmp_path, "16", {})
    note = results["streams.haproxy.16.total"]["extra"].get("note", "")
    if "haproxy not installed" in note:
        pytest.skip(note)
    _check_stream_rows(results, "haproxy", 16)


def test_quick_metrics_run_compares_scraped_and_plain_bulk(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [*BENCH, "--quick", "--only", "metrics", "--repeat", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    assert results["metrics.bulk.no_scrape"]["value"] > 0
    scraped = results["metrics.bulk.scrape_0.1s"]
    assert scraped["baseline"] == "metrics.bulk.no_scrape" and scraped["ratio_to_baseline"] > 0
    assert "scrapes" in scraped["extra"]
