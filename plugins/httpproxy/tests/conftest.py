"""Fixtures of the wsnet-httpproxy tests (helpers: http_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path: make this one's helpers
# (http_helpers, upstream_app) importable as top-level modules, as tests/ is.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_helpers import Upstream, run_upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with run_upstream() as up:
        yield up
