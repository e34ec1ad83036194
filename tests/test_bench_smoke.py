"""Smoke test of the benchmark suite: `python -m bench --quick --only codec` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
