"""Built-in plugin: ``[authz]`` limits what each principal may open and call.

Principals come from authenticators (htpasswd user, mTLS certificate CN, or
"anonymous").  The check sits behind ``wsnet_authorize``, so the core applies
it to every channel opened to a service of this node, services narrow it
(``Node.authorize(principal, "open", "tcp:ssh")``), and the control API
applies ``call`` to callers named by an authenticator of the "control" scope
(``[control] htpasswd``, mTLS with ``[mtls] scopes``, a plugin's own).
"""

from __future__ import annotations

import logging

from ..addresses import Allowlist
from ..authz import ACTIONS, Policy, policy_from
from ..config import Config, Section
from ..interfaces import Principal
from ..node import Node
from ..stash import StashKey

log = logging.getLogger("wsnet.authz")
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
    config.stash[POLICY] = policy_from(default, principals, config.name)


def _grants(table: Section, name: str) -> dict[str, list[str]]:
    table.table(name)  # type-checks that the entry is a table
    s = Section(table.data[name], table.source, f"[authz.principal.{name}]")
    # Only the keys present: an absent `claim`/`relay` differs from an empty one for
    # the anonymous principal (absent: not narrowed).
    present = {action for action in ACTIONS if action in s.data}
    grants = {action: s.get_str_list(action, []) for action in ACTIONS}
    grants = {action: p for action, p in grants.items() if action in present}
    s.done()
    try:  # parsed here so that a bad entry stops the start (or the reload) with its key
        Allowlist.parse(grants.get("connect", []))
    except ValueError as exc:
        raise s.error("connect", str(exc)) from None
    return grants


def wsnet_authorize(node: Node, principal: Principal, action: str, target: str) -> str | None:
    policy = node.config.stash.get(POLICY, None)
    if policy is None:
        return None
    return policy.check(principal.name, action, target, anonymous=principal.method == "none")


def wsnet_reload(node: Node, config: Config) -> None:
    """SIGHUP: the new grants apply to the next channel and control call, to the routes
    each link advertised, and to the names links hold (a revoked claim closes the link)."""
    old = node.config.stash.get(POLICY, None) or Policy()
    new = config.stash.get(POLICY, None) or Policy()
    if new == old:
        return
    if new.default_allow != old.default_allow:
        log.info("SIGHUP: [authz] default %s", "allow" if new.default_allow else "deny")
    for name in sorted(set(old.principals) | set(new.principals)):
        before, after = old.principals.get(name), new.principals.get(name)
        if before != after:
            what = "added" if before is None else "removed" if after is None else "changed"
            log.info("SIGHUP: [authz.principal.%s] %s", name, what)
    node.config.stash[POLICY] = new
    node.adverts.refilter()  # routes installed under a revoked relay grant go now
    node.recheck_claims()  # and links holding a name under a revoked claim grant close
