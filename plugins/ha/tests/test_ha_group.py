"""wsnet-ha's state machine, without sockets: who is active, and why."""

from __future__ import annotations

import pytest

from wsnet_ha.group import GroupConfig, GroupState


def group(**kw: bool | float) -> GroupState:
    return GroupState(GroupConfig("app", ("m1", "m2", "m3"), **kw))  # type: ignore[arg-type]


def test_start_picks_the_highest_priority_reachable_member() -> None:
    g = group()
    assert g.update(set()) is None and g.active == ""
    change = g.update({"m2", "m3"})
    assert change is not None and (change.active, change.cause) == ("m2", "start")
    assert g.update({"m1", "m2", "m3"}) is None  # no preempt: m2 stays
    assert g.active == "m2"


def test_failover_goes_down_the_priority_list_and_to_none() -> None:
    g = group()
    g.update({"m1", "m2", "m3"})
    c1 = g.update({"m2", "m3"})
    assert c1 is not None and (c1.active, c1.previous, c1.cause) == ("m2", "m1", "failover")
    assert "link to m1 lost" in c1.reason
    assert g.update({"m3"}) is not None and g.active == "m3"
    c3 = g.update(set())
    assert c3 is not None and c3.active == "" and "no member left" in c3.reason
    c4 = g.update({"m1"})
    assert c4 is not None and (c4.active, c4.cause) == ("m1", "start")


def test_a_standby_coming_and_going_changes_nothing() -> None:
    g = group()
    g.update({"m1", "m2"})
    assert g.update({"m1"}) is None
    assert g.update({"m1", "m3"}) is None
    assert g.changes == 1


def test_preempt_returns_to_the_preferred_member() -> None:
    g = group(preempt=True)
    g.update({"m1", "m2"})
    g.update({"m2"})
    back = g.update({"m1", "m2"})
    assert back is not None and (back.active, back.previous, back.cause) == ("m1", "m2", "preempt")


def test_activity_promotes_only_when_configured() -> None:
    off = group()
    off.update({"m1", "m2"})
    assert off.activity("m2", {"m1", "m2"}) is None
    on = group(promote_on_activity=True)
    on.update({"m1", "m2"})
    change = on.activity("m2", {"m1", "m2"})
    assert change is not None and (change.active, change.cause) == ("m2", "promotion")
    assert on.activity("m2", {"m1", "m2"}) is None  # already active
    assert on.activity("intruder", {"intruder"}) is None  # not a member
    assert on.activity("m3", {"m1", "m2"}) is None  # not reachable


def test_operator_promotion_checks_its_member() -> None:
    g = group()
    g.update({"m1", "m2"})
    with pytest.raises(ValueError, match="not a member"):
        g.promote("x", {"m1", "m2"})
    with pytest.raises(ValueError, match="not reachable"):
        g.promote("m3", {"m1", "m2"})
    with pytest.raises(ValueError, match="already active"):
        g.promote("m1", {"m1", "m2"})
    assert g.promote("m2", {"m1", "m2"}).active == "m2"
    assert g.role("m1") == "standby" and g.role("m2") == "active"
