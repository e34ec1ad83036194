"""``record``: each session's frames, with time and direction, as JSON lines.

File ``RECORD.N`` (N counts sessions from 1, as websockify's ``FILE.[session_number]``).
The first line describes the session, then one line per WebSocket message's payload:
``{"t": SECONDS_SINCE_START, "dir": "in"|"out", "data": BASE64}`` (``in``: browser to
target, ``out``: target to browser).  websockify's own format (a JavaScript array for
noVNC's old player) is not kept: JSON lines are streamed, binary-safe and read by any
tool; docs/websockify.md shows a converter.

A recording holds what the user typed (VNC passwords too): it is created mode 0600, never
through a symbolic link, and never over an existing file (a number in use, from before a
restart or planted in a shared directory, is skipped).  A failed write (disk full) ends
the recording, not the session: one warning, and the session goes on unrecorded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import time
from typing import IO

log = logging.getLogger("wsnet.websockify")
MAX_SKIPPED = 100_000  # numbers in use skipped before giving up on a recording
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_next: dict[str, int] = {}  # per prefix: the next number to try


def _create(prefix: str) -> tuple[str, IO[str]]:
    """A new ``PREFIX.N`` file, N the lowest unused number from the last one on."""
    first = _next.get(prefix, 1)
    for n in range(first, first + MAX_SKIPPED):
        path = f"{prefix}.{n}"
        try:
            fd = os.open(path, _FLAGS, 0o600)
        except FileExistsError:
            continue
        _next[prefix] = n + 1
        return path, os.fdopen(fd, "w", encoding="ascii")
    raise OSError(f"{prefix}.N: {MAX_SKIPPED} numbers in use")


class Recorder:
    def __init__(self, prefix: str, header: dict[str, object]) -> None:
        self.path = ""
        self._file: IO[str] | None = None
        self._start = time.monotonic()
        try:
            self.path, self._file = _create(prefix)
        except OSError as exc:
            log.warning("websockify: cannot record a session to %s.N: %s", prefix,
                        exc.strerror or exc)  # fmt: skip
            return
        self._write(json.dumps({"wsnet_websockify_record": 1, "start": time.time(),
                                **header}) + "\n")  # fmt: skip

    def frame(self, direction: str, data: bytes) -> None:
        if self._file is None:
            return
        t = round(time.monotonic() - self._start, 6)
        payload = base64.b64encode(data).decode()
        self._write(f'{{"t": {t}, "dir": "{direction}", "data": "{payload}"}}\n')

    def _write(self, line: str) -> None:
        assert self._file is not None
        try:
            self._file.write(line)
        except OSError as exc:  # disk full, file too large: stop recording, not the session
            log.warning("websockify: recording %s stopped: %s", self.path, exc.strerror or exc)
            f, self._file = self._file, None
            with contextlib.suppress(OSError):  # what is buffered cannot be written either
                f.close()

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError as exc:
                log.warning("websockify: recording %s is incomplete: %s", self.path,
                            exc.strerror or exc)  # fmt: skip
