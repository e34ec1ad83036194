"""Process-level tuning applied by `wsnet run` before the event loop starts.

glibc serves allocations above M_MMAP_THRESHOLD (128 KiB at first) with a fresh
mmap() each time, so every WebSocket message of about 1 MiB (and every copy of
it that aiohttp's client makes to mask it) costs 256 page faults and a munmap.
Measured here: copying 1 MiB messages ran at 1.5 GB/s by default and 15 GB/s
with a 64 MiB threshold.  Raising the thresholds keeps those buffers on the
heap and reuses them; the cost is that up to M_TRIM_THRESHOLD of freed memory
stays with the process instead of going back to the kernel at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("wsnet.tuning")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds; False (and harmless) on other C libraries."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    log.debug("mallopt thresholds raised: %s", ok)
    return ok
