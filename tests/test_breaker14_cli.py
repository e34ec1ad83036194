"""Issue 14's lazy plugin commands and the shared control-API client, broken again as a
third-party author would: a single command as docs/plugins.md shows it, command names that
clash with the core's, an https URL for a plain control API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from probe_plugins import site_env
from wsnet.testing import NodeFactory, NodeProcess, wait_until

CLI = '''import typer
from wsnet import CtlClient, ctl_command

evil = typer.Typer()


@evil.callback(invoke_without_command=True)
def evil_cmd() -> None:
    print("EVIL RAN")


one = typer.Typer(help="one command")


@one.callback(invoke_without_command=True)  # a single command, as docs/plugins.md says
@ctl_command
def one_cmd(node: str, ctl: CtlClient, data: str = "abc") -> None:
    """Count DATA on NODE."""
    print("ONE", node, data, ctl.call("status")["node"])
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A distribution with a plugin and commands: `one`, and three named like the core's."""
    site = tmp_path / "site"
    info = site / "wsnet_probe_b14cli-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: wsnet-probe-b14cli\nVersion: 0.1\nSummary: probe\n"
    )
    (info / "entry_points.txt").write_text(
        "[wsnet.plugins]\nb14cli = b14cli_plugin\n\n[wsnet.commands]\n"
        "run = b14cli_cli:evil\nctl = b14cli_cli:evil\nplugins = b14cli_cli:evil\n"
        "one = b14cli_cli:one\n"
    )
    (site / "b14cli_plugin.py").write_text("")
    (site / "b14cli_cli.py").write_text(CLI)
    return site


def wsnet(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wsnet", *args], capture_output=True,
                          text=True, timeout=60, env=site_env(site))  # fmt: skip


def test_a_single_command_takes_its_options_after_its_argument(
    site: Path, wsnet_node: NodeProcess
) -> None:
    """docs/plugins.md's single command (a callback): `wsnet one NODE --data x` said
    "Missing argument 'node'", as click read `--data` as a subcommand of a group."""
    res = wsnet(site, "one", "hub", "--data", "x", "--ctlurl", wsnet_node.ctlurl)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ONE hub x a"
    usage = wsnet(site, "one", "--help").stdout
    assert "Usage: wsnet one [OPTIONS] {node}" in usage
    assert "COMMAND [ARGS]" not in usage


def test_a_command_named_like_the_cores_is_not_added_and_plugins_says_so(site: Path) -> None:
    res = wsnet(site, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    (row,) = [r for r in json.loads(res.stdout) if r["name"] == "b14cli"]
    assert row["commands"] == "one"  # not run, ctl, plugins: those are the core's
    for name in ("run", "ctl", "plugins"):
        assert f"command {name!r} is the core's: not added" in row["error"]
    assert "EVIL RAN" not in wsnet(site, "ctl", "--help").stdout + res.stdout


def test_https_to_a_plain_control_api_says_use_http(wsnet_node_factory: NodeFactory) -> None:
    node = wsnet_node_factory("a")
    https = "https:" + node.ctlurl.removeprefix("http:")
    res = subprocess.run([sys.executable, "-m", "wsnet", "ctl", "--ctlurl", https, "status"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().endswith(f"(it does not speak TLS: use {node.ctlurl})")
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_proxy_name_that_does_not_resolve_is_named_as_the_proxy(
    wsnet_node_factory: NodeFactory,
) -> None:
    """Was "dial ws://127.0.0.1:1/wsnet: [Errno -2] Name or service not known": read as the
    target's name, which is an address here."""
    proxy = "http://u:S3cretPw@nohost.invalid:3128"
    dial = {"url": "ws://127.0.0.1:1/wsnet", "proxy": proxy}
    node = wsnet_node_factory("a", listen=False, config={"dial": [dial]})
    line = "proxy nohost.invalid:3128: cannot resolve 'nohost.invalid'"
    wait_until(lambda: line in node.ctl("dials")[0]["last_error"], what="the dial error")
    assert line in node.log()
    assert "S3cretPw" not in node.log()
