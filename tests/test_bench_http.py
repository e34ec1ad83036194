"""Smoke test of the ``http`` bench group: ``python -m bench --quick --only http``, tiny sizes.

Figures are not held to their targets here (the machine is shared and the counts tiny);
the test checks that every path was measured, the ratios divide by ``direct`` and each
target row says whether it was met, consistently with its value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.http_load import ab_binary
from bench.http_paths import nginx_binary

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("rate.p50", "rate.p99", "rate.rps", "sat.rps", "sat.p50", "sat.p99", "sat.cpu",
           "download")  # fmt: skip
UNITS = {"rate.rps": "req/s", "sat.rps": "req/s", "sat.cpu": "us/req", "download": "MB/s"}
NBYTES = 8 << 20


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    if nginx_binary() is None or ab_binary() is None:
        pytest.skip("nginx or ab (apache2-utils) missing: scripts/setup.sh --test installs them")
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "http", "--repeat", "1",
         "--bytes", str(NBYTES), "--http-seconds", "0.5", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["options"]["http"]["rate"] == 200.0, doc["options"]
    return proc.stdout, {r["name"]: r for r in doc["results"]}


@pytest.mark.parametrize("path", ["direct", "wsnet1", "wsnet2", "nginx"])
def test_every_path_measured(quick_run: tuple[str, dict[str, Any]], path: str) -> None:
    stdout, results = quick_run
    for fig in FIGURES:
        row = results[f"http.{path}.{fig}"]
        assert row["unit"] == UNITS.get(fig, "ms"), row
        # CPU is counted in clock ticks (10 ms): a quick run's upstream may use none.
        least = 0 if fig == "sat.cpu" else 1e-9
        assert row["value"] >= least and row["samples"] and row["median"] == row["value"], row
        assert f"http.{path}.{fig}" in stdout
        if path == "direct" or fig == "sat.cpu":
            assert row["ratio_to_baseline"] is None, row
        else:
            assert row["baseline"] == f"http.direct.{fig}" and row["ratio_to_baseline"] > 0, row
    # 100 requests at 200 req/s: the open-loop client kept (roughly) to its schedule.
    assert 100 <= results[f"http.{path}.rate.rps"]["value"] <= 300


@pytest.mark.parametrize(("path", "hops"), [("wsnet1", 1), ("wsnet2", 2), ("nginx", 1)])
def test_targets_state_met_or_missed(
    quick_run: tuple[str, dict[str, Any]], path: str, hops: int
) -> None:
    _, results = quick_run
    per_hop = results[f"http.{path}.rate.p99_per_hop"]
    p99, direct = results[f"http.{path}.rate.p99"], results["http.direct.rate.p99"]
    assert per_hop["value"] == pytest.approx((p99["value"] - direct["value"]) / hops)
    assert per_hop["extra"]["hops"] == hops
    download = results[f"http.{path}.download"]
    if path == "nginx":  # the reference: no targets
        assert not per_hop["target"] and not download["target"]
        return
    assert per_hop["target"] == "<= 2" and per_hop["target_met"] == (per_hop["value"] <= 2)
    assert download["target"] == ">= 0.3 of direct"
    assert download["target_met"] == (download["ratio_to_baseline"] >= 0.3)


def test_client_cost_measured(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    row = results["http.client.aiohttp_p50_cost"]
    assert row["unit"] == "ms" and row["extra"]["raw_p50_ms"] > 0, row
    extra = row["extra"]
    assert row["value"] == pytest.approx(extra["aiohttp_p50_ms"] - extra["raw_p50_ms"])
