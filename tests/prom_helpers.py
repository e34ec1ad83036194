"""A real Prometheus server (Debian's `prometheus`) for the observability tests: started on
loopback with a temporary storage directory, killed at the end, also when a test fails."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsnet.testing import free_port, wait_until

PROMETHEUS = shutil.which("prometheus") or ""
PROMTOOL = shutil.which("promtool") or ""


@dataclass(frozen=True)
class Target:
    job: str
    port: int  # the node's control API (metrics at /metrics there)
    user: str = ""
    password: str = ""


@dataclass
class PrometheusServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of ``promql`` (the HTTP API's ``data.result``)."""
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of ``promql``, None while there is none."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if len(result) == 1 else None


def scrape_config(targets: list[Target]) -> dict[str, Any]:
    jobs = []
    for t in targets:
        job: dict[str, Any] = {
            "job_name": t.job,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"127.0.0.1:{t.port}"]}],
        }
        if t.user:
            job["basic_auth"] = {"username": t.user, "password": t.password}
        jobs.append(job)
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": jobs,
    }


@contextlib.contextmanager
def prometheus(tmp: Path, targets: list[Target]) -> Iterator[PrometheusServer]:
    """Run Prometheus scraping ``targets`` every second; JSON is valid YAML."""
    config = tmp / "prometheus.yml"
    config.write_text(json.dumps(scrape_config(targets), indent=1))
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = PrometheusServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_until(lambda: _ready(server), timeout=60, interval=0.2, what="prometheus ready")
        yield server
    finally:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def _ready(server: PrometheusServer) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError(f"prometheus exited: {server.log.read_text(errors='replace')}")
    try:
        with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def fetch(url: str, user: str = "", password: str = "") -> tuple[int, bytes]:
    """GET ``url`` (HTTP Basic when ``user``): status and body, errors included."""
    headers: Mapping[str, str] = {}
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
    req = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def promtool_check_metrics(exposition: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, "check", "metrics"], input=exposition.decode(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
