"""Built-in plugin: ``[authz]`` limits what each principal may open and call.

Principals come from authenticators (htpasswd user, mTLS certificate CN, or
"anonymous").  The check sits behind ``wsnet_authorize``, so the core applies
it to every channel opened to a service of this node, services narrow it
(``Node.authorize(principal, "open", "tcp:ssh")``), and the control API
applies ``call`` to users authenticated by ``[control] htpasswd``.
"""

from __future__ import annotations

from ..authz import ACTIONS, Policy, policy_from
from ..config import Config, Section
from ..interfaces import Principal
from ..node import Node
from ..stash import StashKey

POLICY: StashKey[Policy] = StashKey("authz.policy")
DEFAULTS = ("allow", "deny")


def wsnet_configure(config: Config) -> None:
    s = config.section("authz")
    default = s.get_str("default", "allow")
    if default not in DEFAULTS:
        raise s.error("default", f'expected "allow" or "deny", got {default!r}')
    table = s.table("principal")
    table.path = "[authz.principal]"  # as the file spells it, not "[authz].principal"
    s.done()
    principals = {name: _grants(table, name) for name in table.data}
    config.stash[POLICY] = policy_from(default, principals)


def _grants(table: Section, name: str) -> dict[str, list[str]]:
    table.table(name)  # type-checks that the entry is a table
    s = Section(table.data[name], table.source, f"[authz.principal.{name}]")
    grants = {action: s.get_str_list(action, []) for action in ACTIONS}
    s.done()
    return grants


def wsnet_authorize(node: Node, principal: Principal, action: str, target: str) -> str | None:
    policy = node.config.stash.get(POLICY, None)
    return None if policy is None else policy.check(principal.name, action, target)
