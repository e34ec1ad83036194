"""Authorisation policy from ``[authz]``: what each principal may open, call, claim, relay.

Pure logic, no I/O: ``Policy.check(name, action, target)`` answers with a
denial reason or None.  The built-in plugin ``wsnet.builtin.authz`` puts it
behind the ``wsnet_authorize`` hook, so every service gets the same checks.
docs/security.md ("Trust model") says who may do what and why.

Actions and their targets:

- ``open``: ``SERVICE[:WHAT][@NODE]``.  A service name (``"echo"``, ``"ether"``),
  optionally narrowed by the service itself (``"tcp:ssh"``), on a node of the mesh.
  A target or pattern without ``@NODE`` means this node.  A pattern for a narrowed
  target also lets the channel itself be opened: ``"tcp:ssh"`` admits a channel to
  service ``tcp``, and the tcp service then checks ``tcp:ssh`` against the same list.
- ``call``: control method names.
- ``connect``: ``HOST:PORT`` a service would connect to (``"10.0.0.5:22"``),
  matched against address entries by ``wsnet.addresses`` (not globs).
- ``claim``: node names the principal may take in its HELLO (besides its own name).
- ``relay``: node names the principal's links may advertise routes for, and whose
  channels they may carry with the originating principal's name (besides their own).

Patterns are shell globs.  ``open`` and ``call`` follow ``default`` for principals
that are not listed; ``claim`` and ``relay`` are granted only explicitly, except to
the anonymous principal, which has them unless its table lists them (a node without
authenticators trusts every peer: see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .addresses import cached_allowlist

ACTIONS = ("open", "call", "connect", "claim", "relay")
EXPLICIT = ("claim", "relay")  # not subject to `default`: only what is listed


@dataclass(frozen=True, slots=True)
class Grants:
    """Glob patterns per action for one principal; an action not listed grants nothing.

    ``here`` is the name of the node that holds the policy: ``open`` patterns and
    targets without ``@NODE`` mean it.
    """

    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    here: str = ""

    def allows(self, action: str, target: str) -> bool:
        pats = self.patterns.get(action, ())
        if action == "connect":  # address entries, checked at config load
            return cached_allowlist(pats).allows_target(target)
        if action != "open":
            return any(fnmatchcase(target, p) for p in pats)
        what, node = split_node(target, self.here)
        return any(_open_matches(p, what, node, self.here) for p in pats)


def split_node(target: str, here: str) -> tuple[str, str]:
    """``"tcp:web@inner"`` -> ``("tcp:web", "inner")``; no ``@``: the node ``here``."""
    what, at, node = target.rpartition("@")
    return (what, node) if at else (target, here)


def _open_matches(pattern: str, what: str, node: str, here: str) -> bool:
    svc_pattern, node_pattern = split_node(pattern, here)
    return fnmatchcase(node, node_pattern) and _matches(svc_pattern, what)


def _matches(pattern: str, target: str) -> bool:
    if fnmatchcase(target, pattern):
        return True
    # "tcp:ssh" or "tcp:*" admits the channel to service "tcp" (the coarse check).
    service, sep, _ = pattern.partition(":")
    return bool(sep) and ":" not in target and fnmatchcase(target, service)


@dataclass(frozen=True, slots=True)
class Policy:
    """``default_allow`` decides ``open``/``call`` for principals not in ``principals``."""

    default_allow: bool = True
    principals: Mapping[str, Grants] = field(default_factory=dict)

    def check(self, name: str, action: str, target: str, *, anonymous: bool = False) -> str | None:
        """Why ``name`` may not do ``action`` on ``target``, or None when it may.

        ``anonymous``: the principal was not authenticated (no authenticator is
        configured), which has ``claim`` and ``relay`` unless its table lists them.
        """
        grants = self.principals.get(name)
        if action in EXPLICIT:
            return _explicit(name, action, target, grants, anonymous)
        if grants is None:
            return None if self.default_allow else 'not listed in [authz] and default = "deny"'
        if grants.allows(action, target):
            return None
        listed = ", ".join(grants.patterns.get(action, ())) or "nothing"
        return f"[authz.principal.{name}] {action} allows {listed}"


def _explicit(
    name: str, action: str, target: str, grants: Grants | None, anonymous: bool
) -> str | None:
    if grants is None or action not in grants.patterns:
        if anonymous:
            return None
        return f"{name!r} has no [authz.principal.{name}] {action} grant"
    if grants.allows(action, target):
        return None
    listed = ", ".join(grants.patterns[action]) or "nothing"
    return f"[authz.principal.{name}] {action} allows {listed}"


def policy_from(
    default: str, principals: Mapping[str, Mapping[str, Sequence[str]]], here: str = ""
) -> Policy:
    """Build a Policy from already type-checked config values; ``here``: this node's name."""
    grants = {
        name: Grants({a: tuple(p) for a, p in actions.items()}, here)
        for name, actions in principals.items()
    }
    return Policy(default_allow=default == "allow", principals=grants)
