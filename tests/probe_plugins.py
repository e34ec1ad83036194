"""Probe plugins for the plugin-loading tests: real distributions (a ``.dist-info`` with
entry points and the modules beside it) in a directory that goes first on PYTHONPATH, so
importlib.metadata and stevedore find them as they find an installed wheel, and nothing is
installed into the shared environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from wsnet.testing import free_port


def probe_site(site: Path, dist: str, modules: Mapping[str, str], prefix: str) -> Path:
    """``site`` with distribution ``dist`` whose ``wsnet.plugins`` entry point NAME is the
    module ``PREFIXNAME`` made of ``modules[NAME]``'s source."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    eps = ["[wsnet.plugins]"]
    for name, source in modules.items():
        (site / f"{prefix}{name}.py").write_text(source)
        eps.append(f"{name} = {prefix}{name}")
    (info / "entry_points.txt").write_text("\n".join(eps) + "\n")
    return site


def site_env(site: Path) -> dict[str, str]:
    """The environment of a process that sees ``site`` first."""
    return {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def wsnet_run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wsnet run ARGS`` seeing ``site``, for start-up refusals: they come before anything
    binds; if one did not, the timeout ends the node and the test fails."""
    cmd = [sys.executable, "-m", "wsnet", "run", "--listen", "none", "--ctl-port", str(free_port())]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60,
                          env=site_env(site))  # fmt: skip
