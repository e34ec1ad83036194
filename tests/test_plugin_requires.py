"""Plugins that require plugins (WSNET_REQUIRES) and default plugins a node may leave out.

The probe plugins are real distributions: a ``.dist-info`` with entry points and the
modules beside it, on sys.path (in-process) or PYTHONPATH (a `wsnet run` process), so
importlib.metadata finds them exactly as it finds an installed wheel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from probe_plugins import probe_site, site_env, wsnet_run
from wsnet.ctl import CtlError
from wsnet.testing import NodeFactory, wait_until

PROBES = {
    "needy": '("nosuchdep",)',
    "selfish": '("selfish",)',
    "cyc_a": '("cyc_b",)',
    "cyc_b": '("cyc_a",)',
    "lister": '"switch"',  # a string, not a tuple: refused with the attribute's name
}


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    sources = {name: f"WSNET_REQUIRES = {requires}\n" for name, requires in PROBES.items()}
    return probe_site(tmp_path / "site", "wsnet-probe-requires", sources, "probe_")


def test_a_missing_requirement_is_named_in_one_line(probes: Path) -> None:
    res = wsnet_run(probes, "--plugins", "needy")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == (
        "wsnet: error: command line: --plugins: plugin 'needy' requires 'nosuchdep', "
        "which is not installed (pip install wsnet-nosuchdep)"
    )


def _loaded(site: Path, names: list[str]) -> str:
    """load(names) in a fresh interpreter (no entry-point cache of an earlier test in this
    process can hide the probes): its plugin names, or the PluginError's text."""
    code = (
        "import sys\nfrom wsnet import PluginError\nfrom wsnet.plugins import load\n"
        f"try:\n    print(load({names!r}).names)\n"
        "except PluginError as exc:\n    print(exc)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=site_env(site))  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_self_requirement_and_cycles_load_each_plugin_once(probes: Path) -> None:
    assert _loaded(probes, ["selfish"]) == "['selfish']"
    assert _loaded(probes, ["cyc_a"]) == "['cyc_b', 'cyc_a']"  # a requirement comes first
    assert _loaded(probes, ["cyc_b", "cyc_a"]) == "['cyc_a', 'cyc_b']"
    assert _loaded(probes, ["lister"]).startswith("plugin 'lister': WSNET_REQUIRES must be a tuple")


def test_tap_loads_the_switch_and_says_so(wsnet_node_factory: NodeFactory) -> None:
    node = wsnet_node_factory("a", plugins=["tap"])
    status = node.ctl("status")
    assert status["plugins"] == ["switch", "tap"]
    assert "ether" in status["services"]
    assert node.ctl("listport") == []
    assert "plugin 'tap' requires 'switch': loaded it too" in node.log()
    # Named by the user as well: loaded once, and nothing to say.
    both = wsnet_node_factory("b", plugins=["switch", "netdev"])
    assert both.ctl("status")["plugins"] == ["switch", "netdev"]
    assert "requires" not in both.log()


def test_diag_is_a_default_plugin_that_can_be_left_out(
    wsnet_node_factory: NodeFactory,
) -> None:
    a = wsnet_node_factory("a")
    assert {"echo", "sink"} <= set(a.ctl("status")["services"])  # diag by default
    quiet = wsnet_node_factory("quiet", dial=[a.url], plugins=["log", "-diag"])
    by_flag = wsnet_node_factory("flag", dial=[a.url], extra_args=["--plugins", "-diag"])
    for node in (quiet, by_flag):
        status = node.ctl("status")
        assert not {"echo", "sink"} & set(status["services"]), status
        with pytest.raises(CtlError, match="ping"):
            node.ctl("ping", node="a")
    assert quiet.ctl("status")["plugins"] == ["log"]
    wait_until(lambda: {"quiet", "flag"} <= a.peers(), timeout=20, what="both linked to a")
    # Its peers see no echo service there; the link and the rest of the node work.
    with pytest.raises(CtlError, match="echo"):
        a.ctl("ping", node="quiet", count=1)
    assert {link["peer"] for link in a.ctl("links")} == {"quiet", "flag"}


def test_only_default_plugins_can_be_left_out(probes: Path) -> None:
    res = wsnet_run(probes, "--plugins", "-tap")
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "wsnet: error: command line: --plugins: '-tap': 'tap' is not a default plugin"
        " (defaults: diag)"
    )
