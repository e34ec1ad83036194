"""Hook implementations of wsnet-ha: ``[[ha.group]]`` config, the hub and member
roles, name resolution for groups, ``wsnet ctl ha`` / ``hapromote`` and ``wsnet ha``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wsnet import (
    NODE_NAME_RE,
    Component,
    Config,
    ControlError,
    ControlMethod,
    Metric,
    NodeAPI,
    Observer,
    Section,
    Service,
    StashKey,
)

from .cli import COLUMNS
from .group import GroupConfig
from .hub import Hub
from .member import MemberService
from .metrics import ha_metrics

GROUPS: StashKey[tuple[GroupConfig, ...]] = StashKey("ha.groups")
# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("ha", "hapromote")


def wsnet_configure(config: Config) -> None:
    s = config.section("ha")
    tables = s.tables("group")
    s.done()
    groups = tuple(_group(t) for t in tables)
    seen: set[str] = set()
    for g, t in zip(groups, tables, strict=True):
        if g.name in seen:
            raise t.error("name", f"a second group named {g.name!r}")
        seen.add(g.name)
    config.stash[GROUPS] = groups


def _group(t: Section) -> GroupConfig:
    t.path = "[[ha.group]]" + t.path.removeprefix("[[group]]")
    name = t.get_str("name")
    if not NODE_NAME_RE.match(name):
        raise t.error("name", f"expected a name as node names are (1-63 letters, digits, "
                      f"'.', '_', '-'), got {name!r}")  # fmt: skip
    members = t.get_str_list("members")
    for member in members:
        if not NODE_NAME_RE.match(member):
            raise t.error("members", f"expected node names, got {member!r}")
    if len(members) < 2 or len(set(members)) != len(members):
        raise t.error("members", f"expected at least two different node names, got {members!r}")
    if name in members:
        raise t.error("name", f"{name!r} is also a member: a group needs a name of its own")
    g = GroupConfig(
        name, tuple(members),
        preempt=t.get_bool("preempt", False),
        promote_on_activity=t.get_bool("promote_on_activity", False),
        standby_close=t.get_seconds("standby_close", 0.0, zero=True),
        activity=tuple(t.get_str_list("activity", ["tcp"])),
    )  # fmt: skip
    t.done()
    return g


def wsnet_node_plugin(node: NodeAPI) -> HaPlugin:
    return HaPlugin(node)


class HaPlugin:
    """wsnet-ha on one node: the groups it runs (Hub) and its role as a member, created
    once and hooked in once (its wsnet_* methods are hook implementations)."""

    def __init__(self, node: NodeAPI) -> None:
        self.node = node
        self.hub = Hub(node, node.config.stash.get(GROUPS, ()))
        self.member = MemberService(node)

    def wsnet_register_services(self) -> Iterable[Service[Any]]:
        return [self.member]

    def wsnet_register_components(self) -> Iterable[Component]:
        return [self.hub]

    def wsnet_register_observers(self) -> Iterable[Observer]:
        return [self.hub]

    def wsnet_resolve_node(self, name: str) -> str | None:
        return self.hub.resolve(name)

    def wsnet_register_control_methods(self) -> Iterable[ControlMethod]:
        return _control_methods(self.node, self.hub, self.member)

    def wsnet_collect_metrics(self) -> Iterable[Metric]:
        return ha_metrics(self.hub)


def _control_methods(node: NodeAPI, hub: Hub, svc: MemberService) -> list[ControlMethod]:
    async def ha() -> list[dict[str, Any]]:
        rows = hub.info()
        for row in svc.roles.values():
            rows.append({"group": row["group"], "member": node.name, "priority": "",
                         "state": row["role"], "active": "", "changes": "",
                         "last_cause": f"told by {row['hub']}", "last_reason": ""})  # fmt: skip
        return rows

    async def hapromote(group: str, member: str) -> dict[str, Any]:
        if group not in hub.groups:
            raise ControlError(f"no HA group {group!r} on this node")
        try:
            change = hub.promote(group, member)
        except ValueError as exc:
            raise ControlError(f"hapromote {group}: {exc}") from None
        return {"group": group, "active": change.active, "previous": change.previous}

    return [
        ControlMethod("ha", ha, "HA groups: members, priority, active/standby/down, last change",
                      COLUMNS),
        ControlMethod("hapromote", hapromote, "make MEMBER the active member of GROUP now"),
    ]  # fmt: skip
