"""Distance-vector routing of node names over links: pure table operations."""

from __future__ import annotations

from wsnet.routing import MAX_HOPS, Route, RoutingTable


def converge(tables: dict[str, RoutingTable], links: list[tuple[str, int, str, int]]) -> int:
    """Exchange adverts over ``links`` (name, link id, peer name, peer's link id) until quiet.

    Returns the number of rounds; a bound keeps a routing bug from looping forever.
    """
    for rounds in range(1, 4 * MAX_HOPS):
        changed = False
        for name, link_id, peer, peer_link in links:
            changed |= tables[peer].update(peer_link, tables[name].advert_for(link_id))
        if not changed:
            return rounds
    raise AssertionError("routing did not converge")


def chain(*names: str) -> tuple[dict[str, RoutingTable], list[tuple[str, int, str, int]]]:
    """Nodes in a line: names[i] -- names[i+1], link ids unique per node."""
    tables = {n: RoutingTable(n) for n in names}
    links: list[tuple[str, int, str, int]] = []
    for i in range(len(names) - 1):
        left, right = names[i], names[i + 1]
        # link id 2*i+1 on the left node, 2*i+2 on the right node
        tables[left].link_up(2 * i + 1, right)
        tables[right].link_up(2 * i + 2, left)
        links += [(left, 2 * i + 1, right, 2 * i + 2), (right, 2 * i + 2, left, 2 * i + 1)]
    return tables, links


def test_direct_peer_is_one_hop() -> None:
    t = RoutingTable("a")
    assert t.lookup("b") is None
    t.link_up(7, "b")
    assert t.lookup("b") == Route("b", 7, "b", 1)
    assert t.routes() == [Route("b", 7, "b", 1)]


def test_advert_adds_one_hop() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    assert t.update(1, {"c": 1, "d": 4}) is True
    assert t.lookup("c") == Route("c", 1, "b", 2)
    assert t.lookup("d") == Route("d", 1, "b", 5)
    assert t.update(1, {"c": 1, "d": 4}) is False  # same advert: nothing changed


def test_update_from_unknown_link_is_ignored() -> None:
    t = RoutingTable("a")
    assert t.update(3, {"c": 1}) is False
    assert t.lookup("c") is None


def test_own_name_is_never_a_route() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.update(1, {"a": 1, "c": 1})
    assert t.lookup("a") is None
    assert [r.node for r in t.routes()] == ["b", "c"]


def test_negative_hops_are_ignored() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.update(1, {"c": -1})
    assert t.lookup("c") is None


def test_shortest_path_wins_and_ties_go_to_lowest_link_id() -> None:
    t = RoutingTable("a")
    t.link_up(5, "b")
    t.link_up(2, "c")
    t.update(5, {"x": 1, "y": 3})
    t.update(2, {"x": 1, "y": 2})
    assert t.lookup("x") == Route("x", 2, "c", 2)  # tie: link 2 < link 5
    assert t.lookup("y") == Route("y", 2, "c", 3)
    t.update(5, {"x": 0, "y": 3})  # only the peer is 0 hops from the peer: dropped
    assert t.lookup("x") == Route("x", 2, "c", 2)


def test_a_direct_link_cannot_be_taken_over_by_an_advert() -> None:
    """mallory (link 1) advertises {"right": 0}; right links directly (link 7): the
    direct link wins whatever the link ids, and mallory's claim is ignored."""
    t = RoutingTable("hub")
    t.link_up(1, "mallory")
    t.update(1, {"right": 0})
    assert t.lookup("right") is None
    t.link_up(7, "right")
    assert t.lookup("right") == Route("right", 7, "right", 1)
    t.update(1, {"right": 1})  # an honest 1 hop behind mallory is 2 here: still direct
    assert t.lookup("right") == Route("right", 7, "right", 1)


def test_routes_sorted_by_hops_then_name() -> None:
    t = RoutingTable("a")
    t.link_up(1, "m")
    t.update(1, {"z": 1, "b": 1, "k": 3})
    assert [(r.node, r.hops) for r in t.routes()] == [("m", 1), ("b", 2), ("z", 2), ("k", 4)]


def test_max_hops_bounds_routes() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.update(1, {"edge": MAX_HOPS - 1, "beyond": MAX_HOPS})
    assert t.lookup("edge") == Route("edge", 1, "b", MAX_HOPS)
    assert t.lookup("beyond") is None


def test_direct_link_beats_any_advert_of_the_peer_itself() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.link_up(2, "c")
    t.update(2, {"b": 1})  # b is also two hops away via c
    assert t.lookup("b") == Route("b", 1, "b", 1)


def test_peer_advertising_itself_keeps_the_direct_route() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.update(1, {"b": 3})
    assert t.lookup("b") == Route("b", 1, "b", 1)


def test_split_horizon_never_advertises_back_what_came_from_a_link() -> None:
    t = RoutingTable("b")
    t.link_up(1, "a")
    t.link_up(2, "c")
    t.update(1, {"x": 2})
    t.update(2, {"y": 1})
    # On the link to a: b's routes except those learnt from a, and never a itself.
    assert t.advert_for(1) == {"c": 1, "y": 2}
    assert t.advert_for(2) == {"a": 1, "x": 3}
    assert t.advert_for(99) == {"a": 1, "c": 1, "x": 3, "y": 2}


def test_chain_converges_to_hop_counts() -> None:
    tables, links = chain("a", "b", "c", "d", "e")
    converge(tables, links)
    a = tables["a"]
    assert [(r.node, r.hops, r.via) for r in a.routes()] == [
        ("b", 1, "b"),
        ("c", 2, "b"),
        ("d", 3, "b"),
        ("e", 4, "b"),
    ]
    assert tables["c"].lookup("a") == Route("a", 4, "b", 2)  # c's link to b has id 4
    assert tables["c"].lookup("e") == Route("e", 5, "d", 2)


def test_chain_longer_than_max_hops_is_cut() -> None:
    names = [f"n{i}" for i in range(MAX_HOPS + 3)]
    tables, links = chain(*names)
    converge(tables, links)
    first = tables[names[0]]
    assert first.lookup(names[MAX_HOPS]) is not None
    assert first.lookup(names[MAX_HOPS]).hops == MAX_HOPS  # type: ignore[union-attr]
    assert first.lookup(names[MAX_HOPS + 1]) is None


def test_link_down_withdraws_direct_and_learnt_routes() -> None:
    t = RoutingTable("a")
    t.link_up(1, "b")
    t.link_up(2, "c")
    t.update(1, {"x": 1, "y": 1})
    t.update(2, {"y": 3})
    assert t.lookup("y") == Route("y", 1, "b", 2)
    t.link_down(1)
    assert t.lookup("b") is None
    assert t.lookup("x") is None
    assert t.lookup("y") == Route("y", 2, "c", 4)  # the longer alternative takes over
    assert t.update(1, {"x": 1}) is False  # a late advert from the dead link is ignored
    t.link_down(1)  # twice is harmless
    t.link_down(2)
    assert t.routes() == []


def test_link_down_propagates_through_a_chain() -> None:
    tables, links = chain("a", "b", "c", "d")
    converge(tables, links)
    assert tables["a"].lookup("d") is not None
    # cut c -- d: link 5 on c, link 6 on d
    tables["c"].link_down(5)
    tables["d"].link_down(6)
    live = [link for link in links if link[1] not in (5, 6)]
    converge(tables, live)
    assert tables["a"].lookup("d") is None
    assert tables["b"].lookup("d") is None
    assert tables["a"].lookup("c") == Route("c", 1, "b", 2)


def test_ring_failover_and_no_count_to_infinity_past_max_hops() -> None:
    # a - b - c - a: a reaches c directly; cut it and a goes round via b.
    tables = {n: RoutingTable(n) for n in "abc"}
    pairs = [("a", 1, "b", 2), ("b", 3, "c", 4), ("c", 5, "a", 6)]
    links: list[tuple[str, int, str, int]] = []
    for left, lid, right, rid in pairs:
        tables[left].link_up(lid, right)
        tables[right].link_up(rid, left)
        links += [(left, lid, right, rid), (right, rid, left, lid)]
    converge(tables, links)
    assert tables["a"].lookup("c") == Route("c", 6, "c", 1)
    tables["c"].link_down(5)
    tables["a"].link_down(6)
    live = [link for link in links if link[1] not in (5, 6)]
    rounds = converge(tables, live)
    assert rounds <= MAX_HOPS
    assert tables["a"].lookup("c") == Route("c", 1, "b", 2)
    assert tables["c"].lookup("a") == Route("a", 4, "b", 2)
    assert all(r.hops <= MAX_HOPS for t in tables.values() for r in t.routes())


def test_unreachable_node_vanishes_from_a_ring() -> None:
    # a - b - c - a plus d hanging off c; d goes away and must vanish everywhere.
    tables = {n: RoutingTable(n) for n in "abcd"}
    pairs = [("a", 1, "b", 2), ("b", 3, "c", 4), ("c", 5, "a", 6), ("c", 7, "d", 8)]
    links: list[tuple[str, int, str, int]] = []
    for left, lid, right, rid in pairs:
        tables[left].link_up(lid, right)
        tables[right].link_up(rid, left)
        links += [(left, lid, right, rid), (right, rid, left, lid)]
    converge(tables, links)
    assert tables["a"].lookup("d") == Route("d", 6, "c", 2)
    tables["c"].link_down(7)
    live = [link for link in links if link[1] not in (7, 8)]
    converge(tables, live)
    assert all(t.lookup("d") is None for n, t in tables.items() if n != "d")
