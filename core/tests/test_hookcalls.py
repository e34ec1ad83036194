"""Every hookspec has its typed call (wsnet.hookcalls), is documented in docs/plugins.md and
is exercised by some test: a new hook cannot be added half-way."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import wsnet.hookspecs
from wsnet.hookcalls import HookCalls

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(
    name
    for name, fn in vars(wsnet.hookspecs).items()
    if name.startswith("wsnet_") and inspect.isfunction(fn)
)


# Where each hook is exercised end to end (a new hookspec fails until its test is named).
HOOK_TESTS = {
    "wsnet_node_plugin": (
        "core/tests/test_node_plugin.py",
        "test_the_object_is_made_once_and_its_methods_are_hooks",
    ),
    "wsnet_configure": ("tests/test_plugins.py", "test_run_loads_it_with_its_config"),
    "wsnet_reload": ("tests/test_signals.py", "test_sighup_applies_authz_grants"),
    "wsnet_register_services": ("tests/test_plugins.py", "test_run_loads_it_with_its_config"),
    "wsnet_register_components": (
        "plugins/tcp/tests/test_tcp.py",
        "test_listener_follows_its_peer",
    ),
    "wsnet_register_ports": ("plugins/tap/tests/test_l2.py", "test_tap_pair_ping_arp_fdb_ageing"),
    "wsnet_register_authenticators": (
        "plugins/auth_htpasswd/tests/test_htpasswd.py",
        "test_wrong_password_is_401_and_retried",
    ),
    "wsnet_authorize": (
        "tests/test_authz.py",
        "test_principals_open_only_what_authz_grants_and_links_stay_up",
    ),
    "wsnet_check_relay": (
        "tests/test_trust.py",
        "test_a_relayed_tunnel_is_checked_whole_where_it_enters",
    ),
    "wsnet_resolve_node": (
        "plugins/ha/tests/test_ha.py",
        "test_failover_on_kill_9_and_rejoin_as_standby",
    ),
    "wsnet_register_transports": ("tests/test_proxy.py", "test_link_through_the_proxy"),
    "wsnet_register_observers": (
        "plugins/log/tests/test_log.py",
        "test_real_nodes_log_link_up_and_down",
    ),
    "wsnet_register_control_methods": (
        "tests/test_plugins.py",
        "test_run_loads_it_with_its_config",
    ),
    "wsnet_register_http_routes": (
        "tests/test_prometheus.py",
        "test_prometheus_sees_bytes_failover_and_auth_failures",
    ),
    "wsnet_collect_metrics": (
        "tests/test_prometheus.py",
        "test_prometheus_sees_bytes_failover_and_auth_failures",
    ),
    "wsnet_tls_server_context": (
        "plugins/mtls/tests/test_mtls.py",
        "test_trusted_client_links_and_is_named_by_its_cn",
    ),
}


@pytest.mark.parametrize("spec", SPECS)
def test_every_hookspec_has_a_typed_call_with_its_parameters(spec: str) -> None:
    call = getattr(HookCalls, spec.removeprefix("wsnet_"), None)
    assert call is not None, f"wsnet.hookcalls.HookCalls has no {spec.removeprefix('wsnet_')}"
    want = list(inspect.signature(getattr(wsnet.hookspecs, spec)).parameters)
    assert list(inspect.signature(call).parameters)[1:] == want


@pytest.mark.parametrize("spec", SPECS)
def test_every_hookspec_is_documented_and_tested(spec: str) -> None:
    assert f"### {spec}" in (ROOT / "docs" / "plugins.md").read_text()
    assert spec in HOOK_TESTS, f"name the test that exercises {spec} in HOOK_TESTS"
    path, name = HOOK_TESTS[spec]
    source = (ROOT / path).read_text()
    assert f"def {name}(" in source, f"{path}::{name} does not exist"


def test_the_node_implements_node_api() -> None:
    """wsnet.node.Node satisfies the public NodeAPI protocol (checked by mypy too)."""
    from wsnet import NodeAPI
    from wsnet.config import Config
    from wsnet.node import Node
    from wsnet.plugins import Plugins, new_manager

    node: NodeAPI = Node(Config(name="n"), Plugins(new_manager(), []))
    members = [m for m in dir(NodeAPI) if not m.startswith("_")]
    assert set(members) >= {"open_stream", "open_datagram", "authorize", "resolve", "emit"}
    assert all(hasattr(node, m) for m in members)
    assert node.name == "n" and node.reachable_nodes() == ()


def test_every_public_name_is_documented() -> None:
    import wsnet

    doc = (ROOT / "docs" / "plugins.md").read_text()
    names = [n for n in wsnet.__all__ if not n.startswith("_")]
    missing = [n for n in names if f"`{n}" not in doc and f"`@{n}" not in doc]
    assert not missing, f"wsnet exports undocumented in docs/plugins.md: {missing}"


def test_plugins_are_banned_from_every_core_module() -> None:
    """ruff's TID251 list names every module of the core but the package itself, so a new
    module is private to the core until it is exported from `wsnet`."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lint = config["tool"]["ruff"]["lint"]
    banned = set(lint["flake8-tidy-imports"]["banned-api"])
    pkg = ROOT / "core" / "src" / "wsnet"
    modules = {
        f"wsnet.{p.stem}"
        for p in pkg.iterdir()
        if not p.name.startswith("__") and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert modules == banned
    assert "TID251" in lint["select"]
    exempt = {k for k, v in lint["per-file-ignores"].items() if "TID251" in v}
    # only a plugin's test-support module (wsnet_switch.testing) may use core's test support
    assert {k for k in exempt if k.startswith("plugins/*/src")} <= {"plugins/*/src/*/testing.py"}
