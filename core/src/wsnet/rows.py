"""The shapes of the core control methods' results (docs/control-api.md, checked against
these by tests/test_ctl_rows.py).  Counts are integers, sizes bytes, times seconds unless
the name says ``_ms``."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ListenerRow(TypedDict):
    """One listener of `status` (link listener, control API)."""

    name: str
    address: str
    connections: int
    pending: int
    refused: int
    refused_fds: int
    timed_out: int


class DescriptorsRow(TypedDict):
    """`status` descriptors: RLIMIT_NOFILE and how many are open."""

    soft_limit: int
    hard_limit: int
    open: int


class StatusRow(TypedDict):
    """The result of `status`; ``listeners``/``descriptors`` only on a node with a runtime."""

    node: str
    listen: str
    control: str
    links: int
    routes: int
    plugins: list[str]
    services: list[str]
    listeners: NotRequired[list[ListenerRow]]
    descriptors: NotRequired[DescriptorsRow]


class LinkRow(TypedDict):
    """One established link of `links`."""

    id: int
    peer: str
    direction: str  # "out": this node dialled; "in": the peer did
    remote: str
    principal: str
    up_seconds: float
    rtt_ms: float | None  # None before the first keepalive round trip
    channels: int
    queued: int
    buffered: int
    bytes_in: int
    bytes_out: int
    messages_in: int
    frames_ignored: int
    datagrams_dropped: int
    routes_refused: int
    routes_cut: int


class RouteRow(TypedDict):
    """One reachable node of `routes`."""

    node: str
    via: str
    link: int
    hops: int


class ChannelRow(TypedDict):
    """One open channel of `channels`: stream and relay channels carry ``buffered``,
    datagram channels ``drops_in`` and ``drops_out``."""

    id: int
    kind: str  # "stream", "datagram" or "relay"
    service: str
    peer: str
    bytes_in: int
    bytes_out: int
    buffered: NotRequired[int]
    drops_in: NotRequired[int]
    drops_out: NotRequired[int]


class DialRow(TypedDict):
    """One dialler of `dials` (also the result of `dial` and `addport client`)."""

    url: str  # a password in it shown as ***
    state: str  # starting, connecting, up, down or backoff
    attempts: int
    last_error: str
    retry_in: float | None  # seconds to the next attempt while in backoff


class PluginRow(TypedDict):
    """One installed plugin of `plugins`."""

    name: str
    version: str
    loaded: bool
    hooks: str  # comma-separated hook names without the wsnet_ prefix
    error: str  # why it does not import, else ""


class HelpRow(TypedDict):
    """One control method of `help`."""

    method: str
    params: str
    help: str


# The row type of each core method whose result is a row or a list of rows.
ROWS: dict[str, type] = {
    "status": StatusRow,
    "links": LinkRow,
    "routes": RouteRow,
    "channels": ChannelRow,
    "dials": DialRow,
    "dial": DialRow,
    "plugins": PluginRow,
    "help": HelpRow,
}
