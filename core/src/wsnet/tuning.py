"""Process-level tuning applied by `wsnet run` before the event loop starts.

glibc serves allocations above M_MMAP_THRESHOLD (128 KiB at first) with a fresh
mmap() each time, so every WebSocket message of about 1 MiB (and every copy of
it that aiohttp's client makes to mask it) costs 256 page faults and a munmap.
Measured here: copying 1 MiB messages ran at 1.5 GB/s by default and 15 GB/s
with a 64 MiB threshold.  Raising the thresholds keeps those buffers on the
heap and reuses them; the cost is that up to M_TRIM_THRESHOLD of freed memory
stays with the process instead of going back to the kernel at once.  That is kept
small (a burst of 256 filled channels left 50 MiB behind with 128 MiB), and when a
link ends the freed heap is handed back with malloc_trim().
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time

log = logging.getLogger("wsnet.tuning")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 16 << 20
TRIM_INTERVAL = 1.0  # seconds: at most one malloc_trim() per second, however many links end
_last_trim = 0.0


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def release_memory() -> bool:
    """Give freed heap back to the kernel (glibc's malloc_trim), at most once a second.

    Called when a link ends: its buffers were freed, and without this they would stay
    with the process up to M_TRIM_THRESHOLD (and longer where the heap is fragmented).
    """
    global _last_trim
    now = time.monotonic()
    if now - _last_trim < TRIM_INTERVAL:
        return False
    _last_trim = now
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds; False (and harmless) on other C libraries."""
    libc = _libc()
    try:
        mallopt = libc.mallopt if libc is not None else None
    except AttributeError:
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    log.debug("mallopt thresholds raised: %s", ok)
    return ok
