"""wsnet: carry networks over WebSocket.  The public API for plugins lives here."""

from __future__ import annotations

__version__ = "0.1.0"

from .addresses import Allowlist, IPAddress, Resolved, normalize_ip, parse_ip, resolve
from .channel import DatagramChannel, StreamChannel
from .config import Config, Section
from .ctl import CtlClient, CtlError
from .ctl import render as render_result
from .ctlcli import ctl_command
from .errors import ChannelRefused, ConfigError, ControlError, PluginError, WsnetError
from .hookspecs import hookimpl
from .interfaces import (
    ANONYMOUS,
    Authenticator,
    AuthRefused,
    ChannelContext,
    Component,
    ControlMethod,
    DialedSocket,
    Observer,
    Port,
    Principal,
    Service,
    Transport,
)
from .listener_guard import Admission, Listener
from .protocol import ChannelKind, OpenRequest, ResetCode
from .ratelog import Throttled
from .redact import redact_text, redact_url
from .stash import Stash, StashKey

__all__ = [
    "ANONYMOUS",
    "Admission",
    "Allowlist",
    "AuthRefused",
    "Authenticator",
    "ChannelContext",
    "ChannelKind",
    "ChannelRefused",
    "Component",
    "Config",
    "ConfigError",
    "ControlError",
    "ControlMethod",
    "CtlClient",
    "CtlError",
    "DatagramChannel",
    "DialedSocket",
    "IPAddress",
    "Listener",
    "Observer",
    "OpenRequest",
    "PluginError",
    "Port",
    "Principal",
    "ResetCode",
    "Resolved",
    "Section",
    "Service",
    "Stash",
    "StashKey",
    "StreamChannel",
    "Throttled",
    "Transport",
    "WsnetError",
    "__version__",
    "ctl_command",
    "hookimpl",
    "normalize_ip",
    "parse_ip",
    "redact_text",
    "redact_url",
    "render_result",
    "resolve",
]
