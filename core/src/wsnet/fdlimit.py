"""The process's file descriptor limit (RLIMIT_NOFILE): raised at start-up, reported.

Every link, tunnelled connection and listener costs a descriptor, and the usual soft
limit (1024) is far below what a hub or a busy tunnel needs, while the hard limit that
an unprivileged process may raise it to is usually much higher.  uvloop's loop uses
epoll, so descriptors above 1024 are fine (no select()).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("wsnet.runtime")
# Linux caps RLIMIT_NOFILE at fs.nr_open (1048576 by default); an "unlimited" hard limit
# cannot be set as the soft one, so aim for this instead.
_CEILING = 1 << 20
_raised = False


def limits() -> tuple[int, int]:
    """(soft, hard) of RLIMIT_NOFILE now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def raise_soft_limit() -> None:
    """Raise the soft limit to the hard limit, once per process; log both values once."""
    global _raised
    if _raised:
        return
    _raised = True
    soft, hard = limits()
    target = _CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning("open files (RLIMIT_NOFILE): soft limit %d, hard limit %s; cannot "
                        "raise the soft limit: %s", soft, _text(hard), exc)  # fmt: skip
            return
        log.info("open files (RLIMIT_NOFILE): soft limit %d raised to %d (hard limit %s)",
                 soft, target, _text(hard))  # fmt: skip
        return
    log.info("open files (RLIMIT_NOFILE): soft limit %s (hard limit %s)", _text(soft), _text(hard))


def describe() -> str:
    """The limit as a log line or a refusal reason names it."""
    soft, hard = limits()
    return f"RLIMIT_NOFILE soft limit {_text(soft)}, hard limit {_text(hard)}"


def open_count() -> int | None:
    """Descriptors this process has open now (None where /proc is not there)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # minus the one listdir itself opened
    except OSError:
        return None


def snapshot() -> dict[str, Any]:
    soft, hard = limits()
    return {"soft_limit": _num(soft), "hard_limit": _num(hard), "open": open_count()}


def _num(value: int) -> int | None:
    return None if value == resource.RLIM_INFINITY else value


def _text(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


class Reserve:
    """One spare descriptor per process: a listener out of descriptors closes it for an
    instant to accept a waiting connection, only to refuse it with an RST."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self._lock = threading.Lock()  # one event loop per thread may share it

    def ensure(self) -> None:
        if self.fd is None:
            with contextlib.suppress(OSError):
                self.fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    @contextlib.contextmanager
    def released(self) -> Iterator[bool]:
        """Close the spare for the block; yields whether there was one to close."""
        with self._lock:
            had = self.fd is not None
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            try:
                yield had
            finally:
                self.ensure()


RESERVE = Reserve()
