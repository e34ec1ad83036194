"""``record``: each session's frames, with time and direction, as JSON lines.

File ``RECORD.N`` (N counts sessions from 1, as websockify's ``FILE.[session_number]``).
The first line describes the session, then one line per WebSocket message's payload:
``{"t": SECONDS_SINCE_START, "dir": "in"|"out", "data": BASE64}`` (``in``: browser to
target, ``out``: target to browser).  websockify's own format (a JavaScript array for
noVNC's old player) is not kept: JSON lines are streamed, binary-safe and read by any
tool; docs/websockify.md shows a converter.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import IO

_sessions = itertools.count(1)


class Recorder:
    def __init__(self, prefix: str, header: dict[str, object]) -> None:
        self.path = f"{prefix}.{next(_sessions)}"
        self._file: IO[str] = open(self.path, "w", encoding="ascii")  # noqa: SIM115
        self._start = time.monotonic()
        self._file.write(json.dumps({"wsnet_websockify_record": 1, "start": time.time(),
                                     **header}) + "\n")  # fmt: skip

    def frame(self, direction: str, data: bytes) -> None:
        t = round(time.monotonic() - self._start, 6)
        payload = base64.b64encode(data).decode()
        self._file.write(f'{{"t": {t}, "dir": "{direction}", "data": "{payload}"}}\n')

    def close(self) -> None:
        self._file.close()
