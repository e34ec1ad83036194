"""Forwarding rules of the learning switch, frame by frame, without a network."""

from __future__ import annotations

from wsnet_switch import Fdb, Switch, SwitchPort

BCAST = b"\xff" * 6


def mac(n: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, n])


def frame(dst: bytes, src: bytes, size: int = 60) -> memoryview:
    return memoryview(dst + src + b"\x08\x00" + b"\0" * (size - 14))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build(
    *specs: tuple[str, bool], clock: Clock | None = None, hub: bool = False
) -> tuple[Switch, dict[str, list[bytes]]]:
    sw = Switch(forward_between_links=hub, clock=clock or Clock())
    got: dict[str, list[bytes]] = {}
    for name, is_link in specs:
        got[name] = []
        sink = got[name]

        def send(f: memoryview, sink: list[bytes] = sink) -> bool:
            sink.append(bytes(f))
            return True

        sw.add(SwitchPort(name, "link" if is_link else "tap", send, is_link=is_link))
    return sw, got


def test_flood_unknown_then_forward_learnt() -> None:
    sw, got = build(("p1", False), ("p2", False), ("p3", False))
    p1, p2 = sw.ports["p1"], sw.ports["p2"]
    sw.ingress(p1, frame(mac(2), mac(1)))  # unknown destination: flood, not back to p1
    assert [len(got[p]) for p in ("p1", "p2", "p3")] == [0, 1, 1]
    sw.ingress(p2, frame(mac(1), mac(2)))  # mac(1) learnt on p1: only there
    assert [len(got[p]) for p in ("p1", "p2", "p3")] == [1, 1, 1]
    sw.ingress(p1, frame(mac(2), mac(1)))  # now known both ways
    assert [len(got[p]) for p in ("p1", "p2", "p3")] == [1, 2, 1]


def test_broadcast_and_multicast_flood_never_back() -> None:
    sw, got = build(("p1", False), ("p2", False), ("p3", False))
    sw.ingress(sw.ports["p2"], frame(BCAST, mac(2)))
    sw.ingress(sw.ports["p2"], frame(b"\x01\x00\x5e\x00\x00\x01", mac(2)))
    assert [len(got[p]) for p in ("p1", "p2", "p3")] == [2, 0, 2]


def test_destination_on_ingress_port_is_filtered() -> None:
    sw, got = build(("p1", False), ("p2", False))
    sw.ingress(sw.ports["p1"], frame(BCAST, mac(1)))
    sw.ingress(sw.ports["p1"], frame(mac(1), mac(3)))  # both behind p1: nothing leaves
    assert got["p2"] == [bytes(frame(BCAST, mac(1)))]
    assert got["p1"] == []


def test_mac_move() -> None:
    sw, got = build(("p1", False), ("p2", False), ("p3", False))
    sw.ingress(sw.ports["p1"], frame(BCAST, mac(9)))
    sw.ingress(sw.ports["p2"], frame(BCAST, mac(9)))  # the host moved to p2
    assert sw.fdb.moves == 1
    sw.ingress(sw.ports["p3"], frame(mac(9), mac(3)))
    assert len(got["p2"]) == 1 + 1  # the flood from p1, then the unicast
    assert len(got["p1"]) == 1  # only the flood from p2


def test_split_horizon_between_links_unless_hub() -> None:
    sw, got = build(("link:a", True), ("link:b", True), ("tap0", False))
    sw.ingress(sw.ports["link:a"], frame(BCAST, mac(1)))
    assert got["link:b"] == []
    assert len(got["tap0"]) == 1
    hub, hgot = build(("link:a", True), ("link:b", True), hub=True)
    hub.ingress(hub.ports["link:a"], frame(BCAST, mac(1)))
    assert len(hgot["link:b"]) == 1


def test_runts_and_multicast_sources_dropped_and_counted() -> None:
    sw, got = build(("p1", False), ("p2", False))
    p1 = sw.ports["p1"]
    sw.ingress(p1, memoryview(b"\xff" * 13))
    sw.ingress(p1, frame(BCAST, b"\x01\x02\x03\x04\x05\x06"))
    assert sw.runts == 1
    assert sw.bad_source == 1
    assert p1.drops == 2
    assert got["p2"] == []
    assert len(sw.fdb) == 0


def test_ageing_and_port_removal() -> None:
    clock = Clock()
    sw, got = build(("p1", False), ("p2", False), ("p3", False), clock=clock)
    sw.fdb.ageing = 300
    sw.ingress(sw.ports["p1"], frame(BCAST, mac(1)))
    clock.now += 299
    sw.ingress(sw.ports["p2"], frame(mac(1), mac(2)))
    assert len(got["p3"]) == 1  # still known: unicast to p1 only
    clock.now += 2
    sw.ingress(sw.ports["p2"], frame(mac(1), mac(2)))
    assert len(got["p3"]) == 2  # aged out: flooded again
    sw.remove("p2")
    assert mac(2) not in {e.mac for e in sw.fdb.entries()}


def test_egress_drop_counted() -> None:
    sw = Switch()
    sw.add(SwitchPort("in", "tap", lambda f: True))
    full = SwitchPort("full", "tap", lambda f: False)
    sw.add(full)
    sw.ingress(sw.ports["in"], frame(BCAST, mac(1)))
    assert full.drops == 1
    assert full.tx_frames == 0


def test_fdb_capacity_stops_learning_but_keeps_forwarding() -> None:
    fdb: Fdb[str] = Fdb(max_entries=2)
    fdb.learn(mac(1), "a")
    fdb.learn(mac(2), "a")
    fdb.learn(mac(3), "b")
    assert fdb.full_drops == 1
    assert fdb.lookup(mac(3)) is None
    fdb.learn(mac(1), "b")  # known MACs still move when full
    assert fdb.lookup(mac(1)) == "b"


def test_floods_counted_once_per_flooded_frame() -> None:
    from wsnet_switch.metrics import switch_metrics

    sw, _ = build(("p1", False), ("p2", False), ("p3", False))
    p1, p2 = sw.ports["p1"], sw.ports["p2"]
    sw.ingress(p1, frame(BCAST, mac(1)))  # broadcast: flooded
    sw.ingress(p1, frame(mac(2), mac(1)))  # unknown destination: flooded
    sw.ingress(p2, frame(mac(1), mac(2)))  # known: forwarded, not flooded
    assert sw.floods == 2
    floods = {m.name: m for m in switch_metrics(sw)}["wsnet_switch_floods_total"]
    assert floods.samples == (((), 2.0),)
