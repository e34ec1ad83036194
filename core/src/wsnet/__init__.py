"""wsnet: carry networks over WebSocket.  The public API for plugins lives here."""

from __future__ import annotations

__version__ = "0.1.0"

from .addresses import Allowlist, IPAddress, Resolved, normalize_ip, parse_ip, resolve
from .api import NodeAPI
from .channel import DatagramChannel, StreamChannel
from .config import Config, Section
from .ctl import CtlClient, CtlError
from .ctl import render as render_result
from .ctlcli import ctl_command
from .errors import ChannelRefused, ConfigError, ControlError, PluginError, WsnetError
from .events import (
    AuthFailure,
    ChannelClosed,
    ChannelOpened,
    DialFailed,
    LinkDown,
    LinkRefused,
    LinkUp,
    ListenersSuspended,
    NodeEvent,
    NodeStarted,
    PortAdded,
    PortRemoved,
    ResolveChanged,
    RoutesChanged,
)
from .hookspecs import hookimpl
from .interfaces import (
    ANONYMOUS,
    Authenticator,
    AuthRefused,
    ChannelContext,
    Component,
    ControlMethod,
    DatagramService,
    DialedSocket,
    Observer,
    Port,
    Principal,
    Service,
    StreamService,
    Transport,
)
from .listener_guard import Admission, Listener
from .protocol import NODE_NAME_RE, ChannelKind, OpenRequest, ResetCode
from .ratelog import Throttled
from .redact import redact_text, redact_url
from .rundial import start_dial, stop_dial
from .stash import Stash, StashKey
from .tasks import cancel_and_wait
from .tomlw import dumps as toml_dumps

__all__ = [
    "ANONYMOUS",
    "NODE_NAME_RE",
    "Admission",
    "Allowlist",
    "AuthFailure",
    "AuthRefused",
    "Authenticator",
    "ChannelClosed",
    "ChannelContext",
    "ChannelKind",
    "ChannelOpened",
    "ChannelRefused",
    "Component",
    "Config",
    "ConfigError",
    "ControlError",
    "ControlMethod",
    "CtlClient",
    "CtlError",
    "DatagramChannel",
    "DatagramService",
    "DialFailed",
    "DialedSocket",
    "IPAddress",
    "LinkDown",
    "LinkRefused",
    "LinkUp",
    "Listener",
    "ListenersSuspended",
    "NodeAPI",
    "NodeEvent",
    "NodeStarted",
    "Observer",
    "OpenRequest",
    "PluginError",
    "Port",
    "PortAdded",
    "PortRemoved",
    "Principal",
    "ResetCode",
    "ResolveChanged",
    "Resolved",
    "RoutesChanged",
    "Section",
    "Service",
    "Stash",
    "StashKey",
    "StreamChannel",
    "StreamService",
    "Throttled",
    "Transport",
    "WsnetError",
    "__version__",
    "cancel_and_wait",
    "ctl_command",
    "hookimpl",
    "normalize_ip",
    "parse_ip",
    "redact_text",
    "redact_url",
    "render_result",
    "resolve",
    "start_dial",
    "stop_dial",
    "toml_dumps",
]
