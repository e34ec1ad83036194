"""What one side of a link accepts and buffers: the numbers of docs/protocol.md section 10."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .frames import HEADER_SIZE

MAX_CREDIT = 2**31 - 1  # as HTTP/2: a window above this is a flow-control error
# Floors for what a peer may announce in HELLO (docs/protocol.md section 4).  Below them a
# peer could make this node cut every byte into its own frame: a 2 MiB echo became two
# million 1-byte frames with max_frame = 1.
MIN_FRAME = 1024
MIN_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What this side accepts (sent to the peer in HELLO) and how much it buffers.

    Sizes are bytes.  Raises ValueError when the values contradict each other.
    """

    window: int = 1 << 20  # initial credit granted per stream channel
    # Auto-tuning: a channel whose reader consumes a whole window within FAST_ROUND
    # seconds gets its window doubled, up to this.  A slow reader never grows its
    # window, so per-channel buffering stays at `window` where it matters.
    max_window: int = 8 << 20
    # ... and all the growth on one link together stays below this, shared fairly: no
    # channel grows beyond window_budget / (channels that grew).
    window_budget: int = 64 << 20
    # Largest frame payload accepted.  As large as a message, so that a bulk stream's
    # message is one frame, which the receiver keeps as is (a view, no copy).
    max_frame: int = 1 << 20
    max_message: int = (1 << 20) + 4096  # largest WebSocket message accepted
    # Channels open at once on this link: 10,000 idle tunnelled connections fit, even
    # through a single tunnel (docs/protocol.md section 10 gives the memory per channel).
    max_channels: int = 32768
    # Channels one source (a local owner such as a tunnel, or the node a relayed channel
    # comes from) may hold open on one link, so that no listener or peer takes them all.
    # 0: half of the link's channel limit.
    max_channels_per_source: int = 0
    max_control: int = 64 * 1024  # largest HELLO/OPEN/ROUTES payload accepted
    # Queued outbound bytes before datagrams are dropped: 64 TSO super-frames.  At 1 MiB a
    # single iperf3 stream through TAPs lost ~900 super-frames in 5 s (40k retransmits).
    datagram_backlog: int = 4 << 20
    # Stream bytes queued for sending on this link (all channels together).  A writer
    # beyond it waits, as for credit: the link holds this much, not channels x window.
    send_buffer: int = 4 << 20
    # Received stream bytes not yet read by their application, all channels together.
    # Beyond it the channel holding the most is reset (FLOW_CONTROL): the bound on what
    # a peer can make this node buffer, whatever the number of channels.
    link_buffer: int = 256 << 20
    # Control frames (RESET, ACCEPT, ...) a peer can make this side queue while it does
    # not read; beyond it the link is closed (PONG, ROUTES and WINDOW are coalesced).
    control_backlog: int = 4 << 20
    # Route names taken from one link's advert (the nearest first): a peer cannot fill
    # the mesh's routing tables with invented names (docs/security.md, "Trust model").
    max_routes: int = 1024
    # Seconds: a link's adverts are applied, and this node's sent, at most this often;
    # changes in between are merged into the next (damping of flapping routes).
    route_interval: float = 0.25

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} must be finite")
        if self.max_frame < MIN_FRAME:
            raise ValueError(f"max_frame must be at least {MIN_FRAME}")
        if self.max_message < HEADER_SIZE + self.max_frame:
            raise ValueError("max_message must hold at least one max_frame frame")
        if not MIN_WINDOW <= self.window <= MAX_CREDIT:
            raise ValueError(f"window must be in {MIN_WINDOW}..{MAX_CREDIT}")
        if not self.window <= self.max_window <= MAX_CREDIT:
            raise ValueError(f"max_window must be in window..{MAX_CREDIT}")
        if self.window_budget < 0:
            raise ValueError("window_budget must be >= 0")
        if self.max_channels < 1 or self.max_channels_per_source < 0:
            raise ValueError("max_channels must be >= 1 and max_channels_per_source >= 0")
        if self.send_buffer < self.max_frame:
            raise ValueError("send_buffer must hold at least one max_frame frame")
        if self.link_buffer < self.window:
            raise ValueError("link_buffer must hold at least one window")
        if self.max_routes < 0 or not 0 <= self.route_interval <= 60:
            raise ValueError("max_routes must be >= 0 and route_interval in 0..60 seconds")


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Seconds: PING every ``interval``; dead after ``timeout`` without any message."""

    interval: float = 1.0  # send a PING this often
    timeout: float = 4.0  # declare the peer dead after this long without any frame
    hello_timeout: float = 10.0

    def __post_init__(self) -> None:
        for name in ("interval", "timeout", "hello_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.timeout <= self.interval:
            raise ValueError("timeout must be longer than interval")
