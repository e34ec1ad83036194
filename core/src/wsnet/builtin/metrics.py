"""Built-in plugin: the core's metrics (wsnet_collect_metrics), for any exporter.

Read at scrape time from what the core keeps anyway (each link's session counters, the
diallers, the listeners, the routing table).  What only events tell (auth failures, dial
failures, channels opened and the bytes of channels that ended) is counted by an observer:
events are per link or channel, never per packet, so the data path does not change.
Names and meanings: docs/observability.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .. import __version__
from ..events import AuthFailure, ChannelClosed, ChannelOpened, DialFailed, LinkUp, NodeEvent
from ..interfaces import HistogramSample, Metric, Observer, Sample
from ..link import Link
from ..node import Node
from ..protocol import ResetCode
from ..protocol.chstate import DROP_CAUSES, RTT_BUCKETS

LINK = ("peer", "direction")
# A relay counts channels for services it does not serve, named by whichever peer opens
# them: a few such names keep their own label, the rest share "other" (bounded series and
# memory however many names a hostile peer invents).
MAX_FOREIGN_SERVICES = 32
OTHER = "other"


def wsnet_node_plugin(node: Node) -> CoreMetrics:
    return CoreMetrics(node)


class CoreMetrics(Observer):
    """The event counts of one node, and its metrics."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.auth_failures: Counter[str] = Counter()
        self.dial_failures: Counter[str] = Counter()
        self.links_established: Counter[str] = Counter()
        self.opened: Counter[str] = Counter()
        self.closed_in: Counter[str] = Counter()  # bytes of ended channels, by service
        self.closed_out: Counter[str] = Counter()
        self.foreign: set[str] = set()  # services not served here that keep their label

    def wsnet_register_observers(self) -> Iterable[Observer]:
        return [self]

    def notify(self, event: NodeEvent) -> None:
        if isinstance(event, ChannelOpened):
            self.opened[self.service_label(event.service)] += 1
        elif isinstance(event, ChannelClosed):
            service = self.service_label(event.service)
            self.closed_in[service] += event.bytes_in
            self.closed_out[service] += event.bytes_out
        elif isinstance(event, LinkUp):
            self.links_established[event.direction] += 1
        elif isinstance(event, AuthFailure):
            self.auth_failures[event.method] += 1
        elif isinstance(event, DialFailed):
            self.dial_failures[dial_reason(event.error)] += 1

    def service_label(self, service: str) -> str:
        """``service`` if served here or among the first MAX_FOREIGN_SERVICES others seen."""
        if service in self.node.services or service in self.foreign:
            return service
        if len(self.foreign) < MAX_FOREIGN_SERVICES:
            self.foreign.add(service)
            return service
        return OTHER

    def wsnet_collect_metrics(self) -> list[Metric]:
        return [
            Metric(
                "wsnet_info",
                "gauge",
                "This node (always 1).",
                ("node", "version"),
                (((self.node.name, __version__), 1.0),),
            ),
            *self._links(),
            *self._channels(),
            *self._events(),
            Metric(
                "wsnet_routes",
                "gauge",
                "Node names reachable through links.",
                (),
                (((), float(len(self.node.routing.routes()))),),
            ),
            *self._dials(),
            *self._listeners(),
        ]

    def _links(self) -> list[Metric]:
        links = list(self.node.links.values())
        rows = [link.info() for link in links]

        def per_link(key: str) -> tuple[Sample, ...]:
            return tuple(((r["peer"], r["direction"]), float(r[key] or 0)) for r in rows)

        up = tuple(((r["peer"], r["direction"]), 1.0) for r in rows)
        return [
            Metric("wsnet_links", "gauge", "Established links (1 per link).", LINK, up),
            Metric("wsnet_link_receive_bytes_total", "counter",
                   "Bytes received on the link (WebSocket payload).", LINK, per_link("bytes_in")),
            Metric("wsnet_link_transmit_bytes_total", "counter",
                   "Bytes sent on the link (WebSocket payload).", LINK, per_link("bytes_out")),
            Metric("wsnet_link_receive_messages_total", "counter",
                   "WebSocket messages received on the link.", LINK, per_link("messages_in")),
            Metric("wsnet_link_queued_bytes", "gauge", "Bytes waiting to be sent on the link.",
                   LINK, per_link("queued")),
            Metric("wsnet_link_frames_ignored_total", "counter",
                   "Frames for channels already gone.", LINK, per_link("frames_ignored")),
            Metric("wsnet_links_established_total", "counter", "Links that came up.",
                   ("direction",), _by(self.links_established)),
            *link_stats(links),
        ]  # fmt: skip

    def _channels(self) -> list[Metric]:
        open_now: Counter[str] = Counter()
        live_in, live_out = Counter(self.closed_in), Counter(self.closed_out)
        for link in self.node.links.values():
            for ch in link.channels.values():
                service = self.service_label(ch.request.service)
                open_now[service] += 1
                live_in[service] += ch.bytes_in
                live_out[service] += ch.bytes_out
        return [
            Metric("wsnet_channels", "gauge", "Open channel ends by service.",
                   ("service",), _by(open_now)),
            Metric("wsnet_channels_opened_total", "counter", "Channel ends opened, by service.",
                   ("service",), _by(self.opened)),
            Metric("wsnet_channel_receive_bytes_total", "counter",
                   "Payload bytes received on channels, by service.", ("service",), _by(live_in)),
            Metric("wsnet_channel_transmit_bytes_total", "counter",
                   "Payload bytes sent on channels, by service.", ("service",), _by(live_out)),
        ]  # fmt: skip

    def _events(self) -> list[Metric]:
        return [
            Metric("wsnet_auth_failures_total", "counter",
                   "Requests refused by the authenticators, by authenticator.",
                   ("method",), _by(self.auth_failures)),
            Metric("wsnet_dial_failures_total", "counter", "Failed dial attempts, by reason.",
                   ("reason",), _by(self.dial_failures)),
        ]  # fmt: skip

    def _dials(self) -> list[Metric]:
        rows = [d.info() for d in _runtime_attr(self.node, "dialers")]
        attempts = tuple(((r["url"],), float(r["attempts"])) for r in rows)
        backoff = tuple(((r["url"],), float(r["retry_in"] or 0.0)) for r in rows)
        up = tuple(((r["url"],), 1.0 if r["state"] == "up" else 0.0) for r in rows)
        return [
            Metric("wsnet_dial_up", "gauge", "1 when the dialled link is up.", ("url",), up),
            Metric("wsnet_dial_attempts_total", "counter", "Dial attempts.", ("url",), attempts),
            Metric("wsnet_dial_backoff_seconds", "gauge", "Seconds to the next attempt.",
                   ("url",), backoff, merge="max"),
        ]  # fmt: skip

    def _listeners(self) -> list[Metric]:
        rows = [lst.info() for lst in _runtime_attr(self.node, "listeners")]

        def col(key: str) -> tuple[Sample, ...]:
            return tuple(((r["name"],), float(r[key])) for r in rows)

        label = ("listener",)
        return [
            Metric("wsnet_listener_connections_total", "counter", "Connections accepted.",
                   label, col("connections")),
            Metric("wsnet_listener_refused_total", "counter",
                   "Connections refused with RST (caps, no descriptors).", label, col("refused")),
            Metric("wsnet_listener_timed_out_total", "counter",
                   "Connections closed at the handshake deadline.", label, col("timed_out")),
            Metric("wsnet_listener_pending", "gauge", "Connections not trusted yet.",
                   label, col("pending")),
        ]  # fmt: skip


def link_stats(links: list[Link]) -> list[Metric]:
    """What each link's session counts off the data path (protocol.chstate.SessionStats):
    keepalive RTTs and misses, credit stalls, refused OPENs and dropped datagrams."""
    rtts: list[HistogramSample] = []
    misses: list[Sample] = []
    stalls: list[Sample] = []
    refused: list[Sample] = []
    drops: list[Sample] = []
    for link in links:
        st, key = link.session.stats, (link.peer, link.direction)
        rtts.append((key, tuple(st.rtt_buckets), st.rtt_sum))
        misses.append((key, float(st.keepalive_misses)))
        stalls.append((key, float(st.credit_stalls)))
        refused += [
            ((*key, c.name.lower()), float(n))
            for c, n in zip(ResetCode, st.opens_refused, strict=True)
            if n
        ]
        drops += [
            ((*key, cause), float(n))
            for cause, n in zip(DROP_CAUSES, st.datagram_drops, strict=True)
        ]
    return [
        Metric("wsnet_link_rtt_seconds", "histogram", "Keepalive round-trip times (one per PONG).",
               LINK, buckets=RTT_BUCKETS, histograms=tuple(rtts)),
        Metric("wsnet_link_keepalive_misses_total", "counter",
               "Keepalive PINGs still unanswered when the next one was sent.", LINK, tuple(misses)),
        Metric("wsnet_link_credit_stalls_total", "counter",
               "Times a stream's send window reached zero (the sender must wait for credit).",
               LINK, tuple(stalls)),
        Metric("wsnet_channel_opens_refused_total", "counter",
               "Channel requests of the peer refused here, by reason (a reset code).",
               (*LINK, "reason"), tuple(refused)),
        Metric("wsnet_link_datagrams_dropped_total", "counter",
               "Datagrams dropped, by cause (too_big, backlog, closing, receive_queue).",
               (*LINK, "cause"), tuple(drops)),
    ]  # fmt: skip


def _by(counts: Counter[str]) -> tuple[Sample, ...]:
    return tuple(((key,), float(value)) for key, value in sorted(counts.items()))


def _runtime_attr(node: Node, name: str) -> list[Any]:
    from ..runtime import RUNTIME  # runtime imports the node: not at module level

    rt = node.stash.get(RUNTIME, None)
    return list(getattr(rt, name)) if rt is not None else []


# A dial error's text (dialer._describe, dial_errors) reduced to a few reasons: a label
# with the full text would make one series per distinct message.
_REASONS = (
    ("tls", ("certificate", "ssl", "tls")),
    ("auth", ("http 401", "http 403")),
    ("http", ("http ",)),
    ("refused", ("refused",)),
    ("timeout", ("timed out", "timeout")),
    ("dns", ("name or service", "resolve", "name resolution")),
    ("proxy", ("proxy",)),
)


def dial_reason(error: str) -> str:
    text = error.lower()
    return next((reason for reason, words in _REASONS if any(w in text for w in words)), "other")
