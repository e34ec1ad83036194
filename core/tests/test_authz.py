"""[authz] policy: matching rules and config errors, without sockets."""

from __future__ import annotations

from typing import Any

import pytest

from wsnet.authz import Grants, Policy, policy_from
from wsnet.builtin.authz import POLICY, wsnet_configure
from wsnet.config import parse
from wsnet.errors import ConfigError


def policy(raw: dict[str, Any]) -> Policy:
    cfg = parse({"authz": raw}, "site.toml")
    wsnet_configure(cfg)
    return cfg.stash[POLICY]


def test_default_allows_everyone_not_listed() -> None:
    assert Policy().check("anyone", "open", "echo") is None
    assert policy({}).check("anyone", "call", "addport") is None


def test_default_deny_refuses_principals_not_listed() -> None:
    p = policy({"default": "deny", "principal": {"alice": {"open": ["echo"]}}})
    assert p.check("alice", "open", "echo") is None
    assert p.check("anonymous", "open", "echo") == 'not listed in [authz] and default = "deny"'


def test_listed_principal_gets_only_its_patterns_whatever_the_default() -> None:
    p = policy({"default": "allow", "principal": {"alice": {"open": ["echo", "web-*"]}}})
    assert p.check("alice", "open", "web-1") is None
    assert p.check("alice", "open", "sink") == "[authz.principal.alice] open allows echo, web-*"
    assert p.check("alice", "call", "status") == "[authz.principal.alice] call allows nothing"
    assert p.check("bob", "open", "sink") is None


@pytest.mark.parametrize(
    ("pattern", "target", "allowed"),
    [
        ("tcp:ssh", "tcp", True),  # the coarse check when the channel opens
        ("tcp:ssh", "tcp:ssh", True),
        ("tcp:ssh", "tcp:web", False),
        ("tcp:*", "tcp:web", True),
        ("tcp", "tcp:web", False),  # the service alone does not grant its narrowed targets
        ("*", "tcp:web", True),
        ("tcp:ssh", "tcpx", False),
        ("tcp:ssh", "other:ssh", False),
        ("Echo", "echo", False),  # names are case-sensitive
    ],
)
def test_patterns(pattern: str, target: str, allowed: bool) -> None:
    assert Grants({"open": (pattern,)}).allows("open", target) is allowed


def test_policy_from_builds_grants() -> None:
    p = policy_from("deny", {"ops": {"call": ["list*"]}})
    assert p.check("ops", "call", "listport") is None
    assert p.check("ops", "call", "addport") is not None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"default": "maybe"},
         'site.toml: [authz] default: expected "allow" or "deny", got \'maybe\''),
        ({"principal": {"alice": {"opne": ["echo"]}}},
         "site.toml: [authz.principal.alice] opne: unknown key "
         "(known keys here: call, claim, connect, open, relay)"),
        ({"principal": {"alice": {"open": "echo"}}},
         "site.toml: [authz.principal.alice] open: expected a list of strings, got 'echo'"),
        ({"principal": {"alice": ["echo"]}},
         "site.toml: [authz.principal] alice: expected a table, got ['echo']"),
        ({"deny": True},
         "site.toml: [authz] deny: unknown key (known keys here: default, principal)"),
    ],
)  # fmt: skip
def test_config_errors_name_file_and_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy(raw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("pattern", "target", "allowed"),
    [
        ("echo", "echo", True),  # no @: this node ("hub")
        ("echo", "echo@hub", True),
        ("echo", "echo@inner", False),  # a grant without @NODE never reaches further
        ("echo@*", "echo@inner", True),
        ("echo@*", "echo", True),
        ("echo@inner", "echo", False),
        ("tcp:web@inner", "tcp@inner", True),  # the coarse check of a relayed OPEN
        ("tcp:web@inner", "tcp:web@inner", True),
        ("tcp:web@inner", "tcp:ssh@inner", False),
        ("tcp:web@inner", "tcp:web@outer", False),
        ("*@edge-*", "sink@edge-3", True),
        ("*@edge-*", "sink@core", False),
    ],
)
def test_open_patterns_name_the_node(pattern: str, target: str, allowed: bool) -> None:
    assert Grants({"open": (pattern,)}, "hub").allows("open", target) is allowed


def test_claim_and_relay_are_granted_only_explicitly() -> None:
    p = policy(
        {
            "default": "allow",
            "principal": {"alice": {"open": ["*"]}, "hub": {"relay": ["*"], "claim": ["hub-*"]}},
        }
    )
    # default = "allow" covers open and call, never names and routes
    assert p.check("bob", "claim", "inner") == "'bob' has no [authz.principal.bob] claim grant"
    assert p.check("alice", "relay", "inner") is not None
    assert p.check("hub", "relay", "anything") is None
    assert p.check("hub", "claim", "hub-2") is None
    assert p.check("hub", "claim", "inner") == "[authz.principal.hub] claim allows hub-*"


def test_anonymous_has_claim_and_relay_unless_its_table_lists_them() -> None:
    p = policy({"principal": {"anonymous": {"relay": ["site-*"]}}})
    assert p.check("anonymous", "claim", "x", anonymous=True) is None
    assert p.check("anonymous", "relay", "site-1", anonymous=True) is None
    assert p.check("anonymous", "relay", "inner", anonymous=True) is not None
    # the flag, not the name, makes a principal anonymous: a user called so has no grant
    assert Policy().check("anonymous", "claim", "x") is not None
    assert Policy().check("anonymous", "claim", "x", anonymous=True) is None
