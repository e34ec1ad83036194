"""Third-party plugins: built and pip-installed from a temporary directory, then uninstalled.

Shows the whole life of a plugin distribution: entry point found by stevedore,
hooks called by pluggy, its typer command (entry point group wsnet.commands) in
`wsnet --help`, its control method and service on a running node; gone again
after `pip uninstall`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsnet.testing import NodeFactory, wait_until

DIST = "wsnet-thirdparty-probe"

PLUGIN = '''
"""A third-party wsnet plugin used by the test suite."""
from __future__ import annotations

from wsnet import ChannelContext, Config, ControlMethod, Service, StashKey, StreamChannel

GREETING: StashKey[str] = StashKey("greeting")


def wsnet_configure(config: Config) -> None:
    section = config.section("greeter")
    config.stash[GREETING] = section.get_str("greeting", "hello")
    section.done()


class Greet(Service):
    name = "greet"

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        await channel.write(f"{GREETING_OF[0]} {ctx.request.src}".encode())
        channel.write_eof()


GREETING_OF = ["?"]


def wsnet_register_services(node):
    GREETING_OF[0] = node.config.stash[GREETING]
    return [Greet()]


def wsnet_register_control_methods(node):
    async def greet(peer: str) -> str:
        ch = await node.open_channel(peer, "greet")
        try:
            return (await ch.read()).decode()
        finally:
            ch.close()

    return [ControlMethod("greet", greet, "ask PEER's greeter for a greeting")]
'''

COMMANDS = '''
"""The greeter's command: its own module, imported only when `wsnet greeter-hello` runs."""
import typer

hello_app = typer.Typer()


@hello_app.callback(invoke_without_command=True)
def hello(name: str = "world") -> None:
    """Print a greeting (added by the greeter plugin)."""
    typer.echo(f"greeter says hello to {name}")
'''

BROKEN = "raise ImportError('needs libfoo, which is not installed')\n"
BAD_HOOK = "def wsnet_register_services(nod):\n    return []\n"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)


def wsnet(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "wsnet", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    src = tmp_path_factory.mktemp("thirdparty")
    pkg = src / "src" / "wsnet_greeter"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(PLUGIN)
    (pkg / "commands.py").write_text(COMMANDS)
    (pkg / "broken.py").write_text(BROKEN)
    (pkg / "badhook.py").write_text(BAD_HOOK)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{DIST}"
        version = "3.1.4"
        description = "greets peers"
        dependencies = ["wsnet-core"]

        [project.entry-points."wsnet.plugins"]
        greeter = "wsnet_greeter.plugin"
        greeter-broken = "wsnet_greeter.broken"
        greeter-badhook = "wsnet_greeter.badhook"

        [project.entry-points."wsnet.commands"]
        greeter-hello = "wsnet_greeter.commands:hello_app"
        greeter-broken = "wsnet_greeter.broken:app"

        [tool.setuptools.packages.find]
        where = ["src"]
        """)
    )
    # Not editable, no build isolation: a real wheel install that needs no network.
    pip("install", "--no-build-isolation", "--no-deps", str(src))
    try:
        yield src
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", DIST],
            capture_output=True,
            timeout=120,
        )


def test_command_appears_in_help(installed_plugin: Path) -> None:
    res = wsnet("--help")
    assert res.returncode == 0, res.stderr
    assert "greeter-hello" in res.stdout and "greeter-broken" in res.stdout
    assert "greets peers" in res.stdout  # the distribution's summary, read from metadata
    assert "libfoo" not in res.stderr  # listing imported no plugin module, not even the broken one
    assert wsnet("greeter-hello", "--name", "tests").stdout == "greeter says hello to tests\n"


def test_broken_command_is_named_and_breaks_nothing_else(installed_plugin: Path) -> None:
    res = wsnet("greeter-broken", "--help")
    assert res.returncode == 2
    assert res.stderr == (
        "wsnet: error: plugin command 'greeter-broken' (wsnet_greeter.broken:app, distribution "
        f"{DIST}) failed to load: ImportError: needs libfoo, which is not installed\n"
    )
    assert wsnet("greeter-hello").stdout == "greeter says hello to world\n"
    for args in (["version"], ["--version"], ["ctl", "--help"], ["tcp", "--help"]):
        res = wsnet(*args)
        assert (res.returncode, res.stderr) == (0, ""), args


def test_version_names_the_plugin(installed_plugin: Path) -> None:
    lines = wsnet("--version").stdout.splitlines()
    assert f"plugin greeter 3.1.4 ({DIST})" in lines
    assert f"plugin greeter-broken 3.1.4 ({DIST})" in lines  # metadata only: never imported


def test_plugins_listing(installed_plugin: Path) -> None:
    rows = {r["name"]: r for r in json.loads(wsnet("plugins", "--json").stdout)}
    greeter = rows["greeter"]
    assert greeter["version"] == "3.1.4"
    assert greeter["distribution"] == DIST
    assert greeter["hooks"] == "configure, register_control_methods, register_services"
    assert greeter["commands"] == "greeter-broken, greeter-hello"  # its distribution's commands
    assert "needs libfoo" in rows["greeter-broken"]["error"]


def test_run_loads_it_with_its_config(
    installed_plugin: Path, wsnet_node_factory: NodeFactory
) -> None:
    cfg = {"greeter": {"greeting": "bonjour"}}
    a = wsnet_node_factory("a", plugins=["greeter", "log"], config=cfg)
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["greeter"])
    wait_until(lambda: "a" in b.peers(), what="link")
    assert b.ctl("greet", peer="a") == "bonjour b"
    assert a.ctl("status")["plugins"] == ["greeter", "log"]
    loaded = {p["name"]: p["loaded"] for p in a.ctl("plugins")}
    assert loaded["greeter"] is True
    assert loaded["greeter-broken"] is False


def test_plugin_order_follows_the_list(
    installed_plugin: Path, wsnet_node_factory: NodeFactory
) -> None:
    a = wsnet_node_factory("a", extra_args=["--plugins", "log,greeter"])
    assert a.ctl("status")["plugins"] == ["log", "greeter"]


def test_unloaded_plugin_contributes_nothing(
    installed_plugin: Path, wsnet_node_factory: NodeFactory
) -> None:
    a = wsnet_node_factory("a")
    assert "greet" not in {m["method"] for m in a.ctl("help")}
    assert "greet" not in a.ctl("status")["services"]


def test_broken_and_invalid_plugins_are_named(installed_plugin: Path) -> None:
    res = wsnet("run", "--plugins", "greeter-broken", "--listen", "none")
    assert res.returncode == 2
    assert (
        "plugin 'greeter-broken' (wsnet_greeter.broken) failed to load: ImportError: "
        "needs libfoo, which is not installed"
    ) in res.stderr
    res = wsnet("run", "--plugins", "greeter-badhook", "--listen", "none")
    assert res.returncode == 2
    assert "greeter-badhook" in res.stderr
    assert "nod" in res.stderr  # pluggy names the argument the spec does not have


def test_uninstall_removes_command_and_feature(installed_plugin: Path) -> None:
    """Runs last in this module (pytest keeps file order): uninstalls, then checks."""
    pip("uninstall", "-y", DIST)
    assert "greeter-hello" not in wsnet("--help").stdout
    res = wsnet("run", "--plugins", "greeter", "--listen", "none")
    assert res.returncode == 2
    assert "command line: --plugins: unknown plugin greeter (installed plugins: " in res.stderr
    assert "log" in res.stderr.split("installed plugins:")[1]
    assert wsnet("greeter-hello").returncode != 0
