"""Smoke test of the request/response group (issue 18): every path end to end, tiny counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_reqresp_run_measures_every_path(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "WSNET_BENCH_WEBSOCAT": str(tmp_path / "no-websocat")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "reqresp", "--repeat", "1",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    for size in ("1B", "1k"):
        for path in ("tcp", "wsnet", "relay"):
            p50, p99 = results[f"reqresp.{path}.{size}.p50"], results[f"reqresp.{path}.{size}.p99"]
            assert p50["unit"] == "us" and 0 < p50["value"] <= p99["value"], (p50, p99)
            assert results[f"reqresp.{path}.{size}.sat"]["value"] > 0
        for path in ("wsnet", "relay"):  # CPU is that of the path's processes: none for TCP
            assert results[f"reqresp.{path}.{size}.cpu"]["value"] >= 0
        assert f"reqresp.tcp.{size}.cpu" not in results
        wsnet = results[f"reqresp.wsnet.{size}.p50"]
        assert wsnet["baseline"] == f"reqresp.tcp.{size}.p50" and wsnet["ratio_to_baseline"] > 0
    bulk_cpu = results["reqresp.wsnet.bulk_cpu"]
    assert bulk_cpu["unit"] == "CPU-s/GiB" and bulk_cpu["baseline"] == "reqresp.relay.bulk_cpu"
    websocat = results["reqresp.websocat.1B.p50"]
    assert "websocat not installed: run bench/peers/websocat.sh" in websocat["extra"]["note"]
    haproxy = results["reqresp.haproxy.1B.p50"]
    if haproxy["unit"] != "skipped":  # Debian's haproxy is in APT_TEST; the target needs it
        assert results["reqresp.wsnet.1B.p50"]["target"] == "<= 1 x haproxy"
    assert "reqresp.wsnet.1B.p50" in proc.stdout
