"""wsnet: carry networks over WebSocket.  The public API for plugins lives here.

The names are imported on first use (PEP 562 ``__getattr__``): every ``wsnet`` command
imports this package, and ``wsnet version`` or ``wsnet ctl`` must not pay for aiohttp,
pydantic and the node (about half a second on a loaded machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .addresses import Allowlist, IPAddress, Resolved, normalize_ip, parse_ip, resolve
    from .channel import DatagramChannel, StreamChannel
    from .config import Config, Section
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

# Where each public name is defined; tests/test_cli_fast.py checks it against __all__.
_EXPORTS: dict[str, str] = {
    "Allowlist": ".addresses",
    "IPAddress": ".addresses",
    "Resolved": ".addresses",
    "normalize_ip": ".addresses",
    "parse_ip": ".addresses",
    "resolve": ".addresses",
    "DatagramChannel": ".channel",
    "StreamChannel": ".channel",
    "Config": ".config",
    "Section": ".config",
    "ChannelRefused": ".errors",
    "ConfigError": ".errors",
    "ControlError": ".errors",
    "PluginError": ".errors",
    "WsnetError": ".errors",
    "hookimpl": ".hookspecs",
    "ANONYMOUS": ".interfaces",
    "Authenticator": ".interfaces",
    "AuthRefused": ".interfaces",
    "ChannelContext": ".interfaces",
    "Component": ".interfaces",
    "ControlMethod": ".interfaces",
    "DialedSocket": ".interfaces",
    "Observer": ".interfaces",
    "Port": ".interfaces",
    "Principal": ".interfaces",
    "Service": ".interfaces",
    "Transport": ".interfaces",
    "Admission": ".listener_guard",
    "Listener": ".listener_guard",
    "ChannelKind": ".protocol",
    "OpenRequest": ".protocol",
    "ResetCode": ".protocol",
    "Throttled": ".ratelog",
    "redact_text": ".redact",
    "redact_url": ".redact",
    "Stash": ".stash",
    "StashKey": ".stash",
}

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
    "hookimpl",
    "normalize_ip",
    "parse_ip",
    "redact_text",
    "redact_url",
    "resolve",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wsnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
