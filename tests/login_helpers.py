"""Logins for the authorisation tests: htpasswd files made by Apache's tool, and nodes that
dial a hub as one of their users (tests/test_authz.py, test_trust.py, test_breaker13.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wsnet.testing import NodeFactory, NodeProcess


def htpasswd_file(path: Path, passwords: Mapping[str, str], cost: int | None = None) -> Path:
    """``path`` with a bcrypt line per user (``htpasswd -B``, ``-C cost`` when given)."""
    for user, password in passwords.items():
        create = [] if path.exists() else ["-c"]
        rounds = [] if cost is None else ["-C", str(cost)]
        subprocess.run(["htpasswd", "-b", "-B", *rounds, *create, str(path), user, password],
                       check=True, capture_output=True, timeout=30)  # fmt: skip
    return path


def dial_as(
    factory: NodeFactory,
    user: str,
    hub: NodeProcess,
    tmp: Path,
    *,
    passwords: Mapping[str, str],
    name: str = "",
    **cfg: Any,
) -> NodeProcess:
    """A node named ``name`` (default: the user) that dials ``hub`` as ``user``; ``cfg`` adds
    config sections."""
    secret = tmp / f"{user}.pw"
    secret.write_text(passwords[user])
    entry = {"url": hub.url, "user": user, "password_file": str(secret)}
    return factory(name or user, listen=False, config={"dial": [entry], **cfg})
