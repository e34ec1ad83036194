"""The switch's metrics (wsnet_collect_metrics): the counters the engine keeps anyway
(engine.SwitchPort, Switch, Fdb), read at scrape time."""

from __future__ import annotations

from wsnet import Metric

from .engine import Switch


def switch_metrics(switch: Switch) -> list[Metric]:
    ports = list(switch.ports.values())

    def per_port(attr: str) -> tuple[tuple[tuple[str, ...], float], ...]:
        return tuple(((p.name,), float(getattr(p, attr))) for p in ports)

    def single(value: int) -> tuple[tuple[tuple[str, ...], float], ...]:
        return (((), float(value)),)

    port = ("port",)
    return [
        Metric("wsnet_switch_fdb_entries", "gauge", "MAC addresses in the forwarding table.",
               (), single(len(switch.fdb))),
        Metric("wsnet_switch_fdb_moves_total", "counter", "MACs seen moving to another port.",
               (), single(switch.fdb.moves)),
        Metric("wsnet_switch_fdb_full_total", "counter",
               "MACs not learnt because the table was full (flooded instead).",
               (), single(switch.fdb.full_drops)),
        Metric("wsnet_switch_bad_frames_total", "counter",
               "Frames dropped at ingress: runts and multicast source MACs.",
               (), single(switch.runts + switch.bad_source)),
        Metric("wsnet_switch_floods_total", "counter",
               "Frames flooded to every port (broadcast, multicast, unknown destination MAC).",
               (), single(switch.floods)),
        Metric("wsnet_switch_ports", "gauge", "Switch ports (1 per port).", port,
               tuple(((p.name,), 1.0) for p in ports)),
        Metric("wsnet_switch_port_receive_frames_total", "counter", "Frames in at the port.",
               port, per_port("rx_frames")),
        Metric("wsnet_switch_port_receive_bytes_total", "counter",
               "Ethernet bytes in at the port.", port, per_port("rx_bytes")),
        Metric("wsnet_switch_port_transmit_frames_total", "counter", "Frames out of the port.",
               port, per_port("tx_frames")),
        Metric("wsnet_switch_port_transmit_bytes_total", "counter",
               "Ethernet bytes out of the port.", port, per_port("tx_bytes")),
        Metric("wsnet_switch_port_drops_total", "counter",
               "Frames dropped at the port (egress full, bad frames).", port, per_port("drops")),
    ]  # fmt: skip
