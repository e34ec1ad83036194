"""Authorisation policy from ``[authz]``: what each principal may open and call.

Pure logic, no I/O: ``Policy.check(name, action, target)`` answers with a
denial reason or None.  The built-in plugin ``wsnet.builtin.authz`` puts it
behind the ``wsnet_authorize`` hook, so every service gets the same checks.

Targets are service names for ``open`` (``"echo"``, ``"ether"``), optionally
narrowed by the service itself to ``SERVICE:WHAT`` (``"tcp:ssh"``), and
control method names for ``call``: shell globs.  A pattern for a narrowed
target also lets the channel itself be opened: ``"tcp:ssh"`` admits a channel
to service ``tcp``, and the tcp service then checks ``tcp:ssh`` against the
same list.  ``connect`` targets are ``HOST:PORT`` a service would connect to
(``"10.0.0.5:22"``), matched against address entries by ``wsnet.addresses``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .addresses import cached_allowlist

ACTIONS = ("open", "call", "connect")


@dataclass(frozen=True, slots=True)
class Grants:
    """Glob patterns per action for one principal; an action not listed grants nothing."""

    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def allows(self, action: str, target: str) -> bool:
        if action == "connect":  # address entries, checked at config load
            return cached_allowlist(self.patterns.get(action, ())).allows_target(target)
        return any(_matches(p, target) for p in self.patterns.get(action, ()))


def _matches(pattern: str, target: str) -> bool:
    if fnmatchcase(target, pattern):
        return True
    # "tcp:ssh" or "tcp:*" admits the channel to service "tcp" (the coarse check).
    service, sep, _ = pattern.partition(":")
    return bool(sep) and ":" not in target and fnmatchcase(target, service)


@dataclass(frozen=True, slots=True)
class Policy:
    """``default_allow`` decides for principals without an entry in ``principals``."""

    default_allow: bool = True
    principals: Mapping[str, Grants] = field(default_factory=dict)

    def check(self, name: str, action: str, target: str) -> str | None:
        grants = self.principals.get(name)
        if grants is None:
            return None if self.default_allow else 'not listed in [authz] and default = "deny"'
        if grants.allows(action, target):
            return None
        listed = ", ".join(grants.patterns.get(action, ())) or "nothing"
        return f"[authz.principal.{name}] {action} allows {listed}"


def policy_from(default: str, principals: Mapping[str, Mapping[str, Sequence[str]]]) -> Policy:
    """Build a Policy from already type-checked config values."""
    grants = {
        name: Grants({a: tuple(p) for a, p in actions.items()})
        for name, actions in principals.items()
    }
    return Policy(default_allow=default == "allow", principals=grants)
