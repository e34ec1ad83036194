"""Smoke test of the benchmark suite: `python -m bench --quick --only codec` end to end."""

from __future__ import annotations

import json
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
