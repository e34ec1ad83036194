"""The HTTP benchmark's clients: a fixed-rate one (aiohttp), Apache ``ab`` for saturation,
``curl`` for the download, and a raw-socket one to measure the aiohttp client's own cost.

The fixed-rate client is open-loop, as wrk2 is: request ``i`` is launched at ``t0 + i/rate``
whatever the earlier ones are doing (an aiohttp pool of up to ``conns`` keep-alive
connections carries them), so a slow path shows as latency, not as a lower rate.  A
request's latency runs from its launch to the last byte of its body; ``lag`` is how late
the launches were against the schedule (the client's own timer and load, reported so a
client that fell behind is seen).  Timestamps are ``time.perf_counter`` (uvloop's
``loop.time`` has millisecond resolution).
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import uvloop

from .http_paths import SMALL

AB_MAX_REQUESTS = 2_000_000  # ab sizes its sample array from -n (about 40 bytes a request)


@dataclass
class Sample:
    """What one load run saw: latencies (ms, sorted) and the achieved request rate."""

    rps: float
    latencies_ms: list[float]
    errors: int = 0
    extra: dict[str, object] = field(default_factory=dict)
    lag_max: float = 0.0  # ms the fixed-rate client launched a request late, at most

    def quantile(self, q: float) -> float:
        xs = self.latencies_ms
        if not xs:
            return math.nan
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


# ------------------------------------------------------------------ fixed rate (aiohttp)
def fixed_rate(url: str, rate: float, seconds: float, conns: int = 64) -> Sample:
    """``rate`` req/s for ``seconds`` after a warm-up of a quarter of that (at most 1 s)."""
    return uvloop.run(_fixed_rate(url, rate, seconds, conns))


async def _fixed_rate(url: str, rate: float, seconds: float, conns: int) -> Sample:
    connector = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _schedule(session, url, rate, min(1.0, seconds / 4))  # pool and path warm
        t0 = time.perf_counter()
        lat, lag, errors = await _schedule(session, url, rate, seconds)
        elapsed = time.perf_counter() - t0
    ok = sorted(x for x in lat if not math.isnan(x))
    lags = sorted(lag)
    extra: dict[str, object] = {
        "rate": rate,
        "seconds": seconds,
        "connections_max": conns,
        "launch_lag_ms_p50": lags[len(lags) // 2] if lags else 0.0,
    }
    return Sample(len(ok) / elapsed, ok, errors, extra, lags[-1] if lags else 0.0)


async def _schedule(
    session: aiohttp.ClientSession, url: str, rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    n = max(1, int(rate * seconds))
    lat = [math.nan] * n
    lag = [0.0] * n
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter() + 0.005

    async def one(i: int) -> None:
        start = time.perf_counter()
        lag[i] = (start - (t0 + i / rate)) * 1000
        try:
            async with session.get(url) as resp:
                body = await resp.read()
            if resp.status == 200 and len(body) == SMALL:
                lat[i] = (time.perf_counter() - start) * 1000
        except (aiohttp.ClientError, OSError):
            pass  # counted below as an error (its latency stays NaN)

    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and t0 + i / rate <= now:
            tasks.append(asyncio.create_task(one(i)))
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60 + seconds)
    return lat, lag, sum(1 for x in lat if math.isnan(x))


# ------------------------------------------------------------------ raw socket (no library)
def raw_sequential(port: int, path: str, count: int) -> Sample:
    """``count`` GETs one after another on one keep-alive connection, a blocking socket
    and no HTTP library: the floor the aiohttp client's own cost is measured against.
    The response is known (1,024 bytes after the head), so only the head's end is sought."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    lat: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t_all = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            s.sendall(req)
            _read_response(s)
            lat.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - t_all
    return Sample(count / elapsed, sorted(lat))


def _read_response(s: socket.socket) -> None:
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0 or len(data) < end + 4 + SMALL:
        chunk = s.recv(1 << 16)
        if not chunk or len(data) > 1 << 20:
            raise RuntimeError(f"bad response: {data[:200]!r}")
        data += chunk
    if not data.startswith(b"HTTP/1.1 200") or len(data) != end + 4 + SMALL:
        raise RuntimeError(f"unexpected response: {data[:200]!r}")


# ------------------------------------------------------------------ saturation (ab)
def ab_binary() -> str | None:
    return shutil.which("ab")


def saturate(url: str, concurrency: int, seconds: float, requests: int, work: Path) -> Sample:
    """``ab -k`` with ``concurrency`` connections for ``seconds`` (0: exactly ``requests``).

    ab measures each request from its send to its last byte; its percentiles (``-e``) are
    whole per cent, in ms with microseconds.
    """
    binary = ab_binary()
    if binary is None:
        raise RuntimeError("ab not installed (Debian package apache2-utils)")
    csv = work / f"ab-{time.monotonic_ns()}.csv"
    argv = [binary, "-k", "-q", "-c", str(concurrency), "-e", str(csv)]
    argv += ["-t", str(math.ceil(seconds)), "-n", str(AB_MAX_REQUESTS)] if seconds else []
    argv += ["-n", str(requests)] if not seconds else []
    proc = subprocess.run([*argv, url], capture_output=True, text=True,
                          timeout=(seconds or 60) + 60)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"ab failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    rps = float(_field(proc.stdout, r"Requests per second:\s+([\d.]+)"))
    failed = int(_field(proc.stdout, r"Failed requests:\s+(\d+)"))
    non2xx = int(_field(proc.stdout, r"Non-2xx responses:\s+(\d+)", "0"))
    pct = {}
    for line in csv.read_text().splitlines()[1:]:
        p, _, ms = line.partition(",")
        pct[int(p)] = float(ms)
    csv.unlink()
    done = int(_field(proc.stdout, r"Complete requests:\s+(\d+)"))
    # ab gives whole percentiles only: as 100 sorted latencies, quantile(q) picks pct[100q].
    lat = [pct[p] for p in range(1, 100)] + [pct.get(100, pct[99])]
    extra: dict[str, object] = {"concurrency": concurrency, "complete": done,
                                "p50_ms": pct[50], "p99_ms": pct[99]}  # fmt: skip
    return Sample(rps, lat, failed + non2xx, extra)


def _field(text: str, pattern: str, default: str | None = None) -> str:
    m = re.search(pattern, text)
    if m:
        return m.group(1)
    if default is not None:
        return default
    raise RuntimeError(f"ab output without {pattern!r}: {text[-400:]}")


# ------------------------------------------------------------------ download (curl)
def download(url: str, expect: int, timeout: float = 600) -> float:
    """Bytes per second of one ``curl`` GET of ``url`` to /dev/null (its own timer)."""
    binary = shutil.which("curl")
    if binary is None:
        raise RuntimeError("curl not installed (Debian package curl)")
    proc = subprocess.run(
        [binary, "-sS", "-o", "/dev/null", "--max-time", str(int(timeout)),
         "-w", "%{http_code} %{size_download} %{time_total}", url],
        capture_output=True, text=True, timeout=timeout + 30,
    )  # fmt: skip
    code, size, seconds = [*proc.stdout.split(), "", "", ""][:3]
    if proc.returncode != 0 or code != "200" or int(size or 0) != expect:
        raise RuntimeError(f"curl {url}: rc {proc.returncode}, {proc.stdout!r} {proc.stderr!r}")
    return expect / float(seconds)
