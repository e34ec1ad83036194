"""A hostile entry node for the breaker tests: ``wsnet run`` whose proxy puts the keys
of $WSNET_EVIL_HEAD (a JSON object) into every request head it sends (what a modified
node of the mesh could send).  ``python hostile_entry.py run --config FILE``."""

from __future__ import annotations

import json
import os
from typing import Any

import wsnet_httpproxy.forward as forward
from wsnet.cli import main

_honest = forward.request_head


def _evil(*args: Any, **kwargs: Any) -> dict[str, Any]:
    head = _honest(*args, **kwargs)
    head.update(json.loads(os.environ["WSNET_EVIL_HEAD"]))
    return head


forward.request_head = _evil

if __name__ == "__main__":
    main()
