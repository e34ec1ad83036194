"""Fixtures of the wsnet-httpproxy tests (helpers: http_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path: make this one's helpers
# (http_helpers, upstream_app) importable as top-level modules, as tests/ is.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_helpers import Site, Upstream, run_upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with run_upstream() as up:
        yield up


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A `python -m http.server` with DIR/x/f.bin (west's cases use it as their server)."""
    s = Site(tmp_path / "www")
    try:
        yield s
    finally:
        s.proc.kill()
        s.proc.wait(timeout=10)
