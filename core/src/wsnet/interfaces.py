"""The objects plugins hand to the core through hooks (see wsnet.hookspecs).

Hooks are synchronous; anything with a life cycle has ``async start()`` and
``async aclose()`` here, and the node calls them in plugin order (and closes in
reverse).  Per-packet paths call these objects directly, never through pluggy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from .protocol import ChannelKind, OpenRequest

if TYPE_CHECKING:
    from aiohttp import web

    from .channel import DatagramChannel, StreamChannel
    from .events import NodeEvent


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is on the other end of a link or control request, as an authenticator decided."""

    name: str
    method: str  # "none", "htpasswd", "mtls", ...
    attributes: Mapping[str, Any] = field(default_factory=dict)


ANONYMOUS = Principal("anonymous", "none")


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a service knows about a channel opened towards it."""

    request: OpenRequest
    peer: str  # the link peer the OPEN came from (a relay when multi-hop)
    principal: Principal  # the principal of that link


ChannelT = TypeVar("ChannelT", bound="StreamChannel | DatagramChannel")


class Service(ABC, Generic[ChannelT]):
    """Something a peer can open a channel to, by name (``OpenRequest.service``).

    Subclass ``StreamService`` or ``DatagramService``: their ``handle`` gets the channel
    of their kind, typed, with no isinstance check (the core refuses an OPEN of the
    other kind with BAD_REQUEST before the service sees it).
    """

    name: ClassVar[str]
    kind: ClassVar[ChannelKind] = ChannelKind.STREAM

    @abstractmethod
    async def handle(self, channel: ChannelT, ctx: ChannelContext) -> None:
        """Serve one accepted channel.  Return or raise to end it; the core then closes it."""


class StreamService(Service["StreamChannel"]):
    """A service of stream channels (ordered bytes with credit, FIN)."""

    kind: ClassVar[ChannelKind] = ChannelKind.STREAM


class DatagramService(Service["DatagramChannel"]):
    """A service of datagram channels (messages, no credit, dropped when full)."""

    kind: ClassVar[ChannelKind] = ChannelKind.DATAGRAM


class Component(ABC):
    """A long-lived part of a plugin (listeners, devices): started after the node is up."""

    async def start(self) -> None:  # noqa: B027 - optional override
        """Acquire resources.  An exception here stops the node with that message."""

    async def aclose(self) -> None:  # noqa: B027 - optional override
        """Release everything start() acquired.  Must not raise."""


class Observer(ABC):
    """Receives node events.  notify() must be quick and must not raise."""

    @abstractmethod
    def notify(self, event: NodeEvent) -> None: ...

    async def aclose(self) -> None:  # noqa: B027 - optional override
        """Flush and release (files, sockets)."""


class AuthRefused(Exception):
    """Raised by an authenticator: the request is refused with this HTTP status."""

    def __init__(self, reason: str, status: int = 401, headers: Mapping[str, str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class AuthDenied:
    """``NodeAPI.authenticate``'s refusal: the HTTP answer to send (before any upgrade).

    ``status``: 401 (``headers`` hold the challenges), 403, 429 (``Retry-After``), 503, or
    500 when an authenticator failed; ``authenticator``: which one refused ("none" when no
    one accepted the credentials).  The event and the log line are already done."""

    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticator: str = "none"

    def http_error(self) -> Any:
        """The aiohttp ``web.HTTPException`` of this refusal, to raise from a handler."""
        from aiohttp import web  # here: importing wsnet's interfaces must not load aiohttp

        classes: dict[int, type[web.HTTPException]] = {
            403: web.HTTPForbidden, 429: web.HTTPTooManyRequests,
            500: web.HTTPInternalServerError, 503: web.HTTPServiceUnavailable,
        }  # fmt: skip
        cls = classes.get(self.status, web.HTTPUnauthorized)
        return cls(text=f"{self.reason}\n", headers=dict(self.headers))


LINK = "link"  # the WebSocket upgrade of an incoming link
CONTROL = "control"  # every request to the control API
SCOPES = frozenset({LINK, CONTROL})


class Authenticator(ABC):
    """Decides who an incoming link (WebSocket upgrade) or control request is.

    ``scopes`` says which requests the node asks it about: ``"link"`` (the upgrade of an
    incoming link) and/or ``"control"`` (every control API request).  The default is links
    only, so that an authenticator written for links does not start guarding (or opening)
    the control API; a class or an instance sets it to take part in the control API's chain.
    """

    name: ClassVar[str]
    scopes: frozenset[str] = frozenset({LINK})
    # True when clients send a reusable secret (a password): without TLS anyone on the path
    # reads it, and the node warns at start-up when it listens beyond loopback that way.
    sends_secret: ClassVar[bool] = False

    @abstractmethod
    async def authenticate(self, request: web.Request) -> Principal | None:
        """Return a Principal, None when this method does not apply, or raise AuthRefused."""

    def challenge(self) -> Mapping[str, str]:
        """Headers to add to a 401 when no authenticator accepted (e.g. WWW-Authenticate)."""
        return {}


class WebSocketLike(Protocol):
    """The part of aiohttp's client and server WebSocket objects a link uses."""

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None: ...
    async def receive(self, timeout: float | None = None) -> Any: ...
    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool: ...

    @property
    def close_code(self) -> int | None: ...


@dataclass(slots=True)
class DialedSocket:
    """A connected WebSocket and how to release what was opened for it."""

    ws: WebSocketLike
    remote: str
    aclose: Callable[[], Awaitable[None]]


class Transport(ABC):
    """Dials a link for the URL schemes it names (ws, wss, or a plugin's own)."""

    schemes: ClassVar[tuple[str, ...]]

    @abstractmethod
    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        """Connect and upgrade to WebSocket, or raise OSError / aiohttp.ClientError."""


class Port(ABC):
    """An L2 switch port type (TAP device, existing interface, ...), made by `addport`."""

    kind: ClassVar[str]

    def __init__(
        self, name: str, options: Mapping[str, Any], deliver: Callable[[memoryview], None]
    ) -> None:
        self.name = name
        self.options = options
        self.deliver = deliver  # the switch's ingress: call with each received frame
        # True (set before start() returns) when every frame this port delivers and
        # every frame send() gets starts with a 10-byte virtio-net header (IFF_VNET_HDR,
        # PACKET_VNET_HDR): TSO/GSO super-frames then cross the switch whole.
        self.vnet_hdr = False

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    def send(self, frame: memoryview) -> bool:
        """Egress one Ethernet frame without blocking; False (counted) when dropped."""

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name}


ControlHandler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ControlMethod:
    """A JSON-RPC method.  Parameters are bound from the handler's signature."""

    name: str
    handler: ControlHandler
    help: str = ""
    table: tuple[str, ...] = ()  # columns `wsnet ctl` shows for a list result


# One labelled value of a Metric: the label values (in the order of Metric.labels), the value.
Sample = tuple[tuple[str, ...], float]
# One labelled histogram: label values, the count in each bucket (not cumulative; one more
# than Metric.buckets, the last for +Inf), the sum of the observed values.
HistogramSample = tuple[tuple[str, ...], tuple[int, ...], float]


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family, read from counters the node or a plugin already keeps, at the
    moment something asks (wsnet_collect_metrics; docs/observability.md).

    ``name`` follows Prometheus's conventions (``wsnet_`` prefix, base units in the name:
    ``_bytes``, ``_seconds``; a counter's name ends in ``_total``).  ``type`` is "counter",
    "gauge" or "histogram" (then ``buckets`` holds the upper bounds and ``histograms``
    the values, ``samples`` is empty).  ``merge`` says how samples combine when an
    exporter drops a label for cardinality (``per_link = false``): "sum" (counts, bytes;
    histograms always) or "max" (a gauge such as a queue's peak).
    """

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()
    merge: str = "sum"
    buckets: tuple[float, ...] = ()
    histograms: tuple[HistogramSample, ...] = ()


HttpHandler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """An HTTP route a plugin adds to the control listener (wsnet_register_http_routes):
    behind the control API's TLS and authenticators, and ``[authz] call`` on ``name``."""

    name: str  # what [authz.principal.X] call grants, as for a control method
    path: str  # e.g. "/metrics"
    handler: HttpHandler
    method: str = "GET"
