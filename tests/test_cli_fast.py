"""A fast `wsnet` command line: commands import only what they use.

Plugin commands come from the entry-point group ``wsnet.commands`` and are imported only when
they run; `wsnet --help` and `wsnet --version` read names, summaries and versions from the
installed metadata. Each check runs the real CLI in a fresh interpreter and reads its
``sys.modules`` afterwards.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wsnet

# Run the CLI as the console script does, then record every module the process imported.
PROBE = """
import json, sys
from wsnet.cli import main
out, sys.argv = sys.argv[1], ["wsnet", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""

# What none of these commands needs: the node side and every plugin.
HEAVY = ("aiohttp", "uvloop", "pluggy", "stevedore", "wsnet.node", "wsnet.plugins", "wsnet.config")


def modules_after(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    out = tmp_path / "modules.json"
    res = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, timeout=60
    )
    return set(json.loads(out.read_text())), res


def plugin_modules(modules: set[str]) -> list[str]:
    """Modules of installed plugins: the top-level packages their entry points name."""
    eps = [*md.entry_points(group="wsnet.plugins"), *md.entry_points(group="wsnet.commands")]
    tops = {ep.value.split(":")[0].split(".")[0] for ep in eps}
    return sorted(m for m in modules if m.split(".")[0] in tops)


def assert_first_party_installed(group: str) -> None:
    """The workspace's plugins are installed (scripts/setup.sh), so a check has something to see."""
    names = {ep.name for ep in md.entry_points(group=group)}
    assert {"tcp", "tap", "netdev", "ha", "mtls"} <= names, names


@pytest.mark.parametrize(
    "args",
    [
        ["version"],
        ["--version"],
        ["--help"],
        ["ctl", "--help"],
        ["ctl", "--ctlurl", "http://127.0.0.1:1/rpc", "--timeout", "5", "status"],  # refused
    ],
    ids=" ".join,
)
def test_command_imports_no_plugin_and_no_node(tmp_path: Path, args: list[str]) -> None:
    assert_first_party_installed("wsnet.plugins")  # there are plugins that could be imported
    modules, res = modules_after(tmp_path, *args)
    assert "Traceback" not in res.stderr, res.stderr
    assert plugin_modules(modules) == []
    assert [m for m in HEAVY if m in modules] == []


def test_a_plugin_command_imports_its_own_target_only(tmp_path: Path) -> None:
    modules, res = modules_after(tmp_path, "mtls", "--help")
    assert res.returncode == 0 and "fingerprint" in res.stdout, res.stderr
    assert "wsnet_mtls.cli" in modules
    assert [m for m in plugin_modules(modules) if not m.startswith("wsnet_mtls")] == []
    assert "wsnet_mtls.plugin" not in modules  # the node side of the plugin stays out


def test_run_imports_only_the_plugins_it_loads(tmp_path: Path) -> None:
    # A section nobody reads stops start-up right after the plugins are loaded and configured.
    cfg = tmp_path / "n.toml"
    cfg.write_text("[nosuch]\nx = 1\n")
    modules, res = modules_after(
        tmp_path, "run", "--config", str(cfg), "--plugins", "log", "--listen", "none"
    )
    assert "[nosuch]: no loaded plugin uses this section" in res.stderr
    assert "wsnet_log.plugin" in modules
    assert [m for m in plugin_modules(modules) if not m.startswith("wsnet_log")] == []


def test_help_lists_every_plugin_command_with_its_summary() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},  # one line per command
    )
    assert res.returncode == 0, res.stderr
    assert_first_party_installed("wsnet.commands")
    assert "Plugin commands" in res.stdout
    for ep in md.entry_points(group="wsnet.commands"):
        assert ep.dist is not None
        line = next(ln for ln in res.stdout.splitlines() if f" {ep.name} " in ln)
        assert ep.dist.metadata["Summary"] in line, line


def test_version_lists_core_and_every_plugin() -> None:
    for flag in ("--version", "version"):
        res = subprocess.run(
            [sys.executable, "-m", "wsnet", flag], capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0] == f"wsnet {wsnet.__version__}"
        expected = sorted(
            f"plugin {ep.name} {ep.dist.version} ({ep.dist.name})"
            for ep in md.entry_points(group="wsnet.plugins")
            if ep.dist is not None
        )
        assert lines[1:] == expected
        assert "plugin tcp " in res.stdout  # first-party plugins are installed (setup.sh)


def test_public_names_are_importable_lazily(tmp_path: Path) -> None:
    assert set(wsnet._EXPORTS) == set(wsnet.__all__) - {"__version__"}
    for name, (module, attr) in wsnet._EXPORTS.items():
        assert getattr(wsnet, name) is getattr(importlib.import_module(module, "wsnet"), attr)
    res = subprocess.run(
        [sys.executable, "-c", "import sys, wsnet; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [m for m in HEAVY if f"'{m}'" in res.stdout] == []
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        _ = wsnet.nosuch
