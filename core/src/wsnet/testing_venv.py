"""Virtualenvs that hold only chosen distributions, for tests that must not see the
development environment: the core alone (tests/test_core_alone.py), or one plugin with the
plugins it requires (scripts/test_isolated.py).

A virtualenv is made without pip (``venv --without-pip`` takes 0.1 s, with pip 3 s); the
calling interpreter's pip (22.3 or later) installs into it with ``--python``.  Processes run
with PYTHONPATH and PYTHONHOME removed, so nothing of a checkout leaks into them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_DISTS = (
    "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
)


def clean_env() -> dict[str, str]:
    """``os.environ`` without PYTHONPATH and PYTHONHOME."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@dataclass(frozen=True)
class Venv:
    """A virtualenv at ``root``; ``run`` starts its programs (``python``, ``wsnet``)."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def run(
        self, program: str, *args: str, timeout: float = 60, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``bin/PROGRAM ARGS``, output captured; raises TimeoutExpired after ``timeout`` s."""
        argv = [str(self.bin / program), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=clean_env(), cwd=cwd)  # fmt: skip

    def pip_install(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``pip install ARGS`` into this virtualenv (requirements, ``-e DIR``, index options)."""
        pip = [sys.executable, "-m", "pip", "--python", str(self.bin / "python"), "install"]
        return subprocess.run([*pip, "-q", "--disable-pip-version-check", *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=clean_env())  # fmt: skip

    def distributions(self) -> set[str]:
        """Lower-case names of every distribution installed here."""
        res = self.run("python", "-c", _DISTS)
        res.check_returncode()
        return {str(name).lower() for name in json.loads(res.stdout)}


def make_venv(root: Path) -> Venv:
    """An empty virtualenv (no pip, no setuptools) at ``root``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   capture_output=True, timeout=120, env=clean_env())  # fmt: skip
    return Venv(root)
