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
    from .api import LinkAPI, NodeAPI
    from .channel import DatagramChannel, StreamChannel
    from .config import Config, Section, is_loopback
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
        AuthDenied,
        Authenticator,
        AuthRefused,
        ChannelContext,
        Component,
        ControlMethod,
        DatagramService,
        DialedSocket,
        HttpRoute,
        Metric,
        Observer,
        Port,
        Principal,
        Service,
        StreamService,
        Transport,
    )
    from .listener_guard import Admission, Listener
    from .protocol import NODE_NAME_RE, ChannelError, ChannelKind, Hello, OpenRequest, ResetCode
    from .ratelog import Throttled
    from .redact import redact_text, redact_url
    from .rundial import start_dial, stop_dial
    from .stash import Stash, StashKey
    from .tasks import cancel_and_wait
    from .tls import TlsFileError, fingerprint, load_ca, pem_certificates
    from .tomlw import dumps as toml_dumps

# Where each public name is defined, as (module, attribute); tests/test_cli_fast.py checks
# it against __all__.
_EXPORTS: dict[str, tuple[str, str]] = {
    "ANONYMOUS": (".interfaces", "ANONYMOUS"),
    "Admission": (".listener_guard", "Admission"),
    "Allowlist": (".addresses", "Allowlist"),
    "AuthDenied": (".interfaces", "AuthDenied"),
    "AuthFailure": (".events", "AuthFailure"),
    "AuthRefused": (".interfaces", "AuthRefused"),
    "Authenticator": (".interfaces", "Authenticator"),
    "ChannelClosed": (".events", "ChannelClosed"),
    "ChannelContext": (".interfaces", "ChannelContext"),
    "ChannelError": (".protocol", "ChannelError"),
    "ChannelKind": (".protocol", "ChannelKind"),
    "ChannelOpened": (".events", "ChannelOpened"),
    "ChannelRefused": (".errors", "ChannelRefused"),
    "Component": (".interfaces", "Component"),
    "Config": (".config", "Config"),
    "ConfigError": (".errors", "ConfigError"),
    "ControlError": (".errors", "ControlError"),
    "ControlMethod": (".interfaces", "ControlMethod"),
    "CtlClient": (".ctl", "CtlClient"),
    "CtlError": (".ctl", "CtlError"),
    "DatagramChannel": (".channel", "DatagramChannel"),
    "DatagramService": (".interfaces", "DatagramService"),
    "DialFailed": (".events", "DialFailed"),
    "DialedSocket": (".interfaces", "DialedSocket"),
    "Hello": (".protocol", "Hello"),
    "HttpRoute": (".interfaces", "HttpRoute"),
    "IPAddress": (".addresses", "IPAddress"),
    "LinkAPI": (".api", "LinkAPI"),
    "LinkDown": (".events", "LinkDown"),
    "LinkRefused": (".events", "LinkRefused"),
    "LinkUp": (".events", "LinkUp"),
    "Listener": (".listener_guard", "Listener"),
    "ListenersSuspended": (".events", "ListenersSuspended"),
    "Metric": (".interfaces", "Metric"),
    "NODE_NAME_RE": (".protocol", "NODE_NAME_RE"),
    "NodeAPI": (".api", "NodeAPI"),
    "NodeEvent": (".events", "NodeEvent"),
    "NodeStarted": (".events", "NodeStarted"),
    "Observer": (".interfaces", "Observer"),
    "OpenRequest": (".protocol", "OpenRequest"),
    "PluginError": (".errors", "PluginError"),
    "Port": (".interfaces", "Port"),
    "PortAdded": (".events", "PortAdded"),
    "PortRemoved": (".events", "PortRemoved"),
    "Principal": (".interfaces", "Principal"),
    "ResetCode": (".protocol", "ResetCode"),
    "ResolveChanged": (".events", "ResolveChanged"),
    "Resolved": (".addresses", "Resolved"),
    "RoutesChanged": (".events", "RoutesChanged"),
    "Section": (".config", "Section"),
    "Service": (".interfaces", "Service"),
    "Stash": (".stash", "Stash"),
    "StashKey": (".stash", "StashKey"),
    "StreamChannel": (".channel", "StreamChannel"),
    "StreamService": (".interfaces", "StreamService"),
    "Throttled": (".ratelog", "Throttled"),
    "TlsFileError": (".tls", "TlsFileError"),
    "Transport": (".interfaces", "Transport"),
    "WsnetError": (".errors", "WsnetError"),
    "cancel_and_wait": (".tasks", "cancel_and_wait"),
    "ctl_command": (".ctlcli", "ctl_command"),
    "fingerprint": (".tls", "fingerprint"),
    "hookimpl": (".hookspecs", "hookimpl"),
    "load_ca": (".tls", "load_ca"),
    "normalize_ip": (".addresses", "normalize_ip"),
    "parse_ip": (".addresses", "parse_ip"),
    "is_loopback": (".config", "is_loopback"),
    "pem_certificates": (".tls", "pem_certificates"),
    "redact_text": (".redact", "redact_text"),
    "redact_url": (".redact", "redact_url"),
    "render_result": (".ctl", "render"),
    "resolve": (".addresses", "resolve"),
    "start_dial": (".rundial", "start_dial"),
    "stop_dial": (".rundial", "stop_dial"),
    "toml_dumps": (".tomlw", "dumps"),
}

__all__ = [
    "ANONYMOUS",
    "NODE_NAME_RE",
    "Admission",
    "Allowlist",
    "AuthDenied",
    "AuthFailure",
    "AuthRefused",
    "Authenticator",
    "ChannelClosed",
    "ChannelContext",
    "ChannelError",
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
    "Hello",
    "HttpRoute",
    "IPAddress",
    "LinkAPI",
    "LinkDown",
    "LinkRefused",
    "LinkUp",
    "Listener",
    "ListenersSuspended",
    "Metric",
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
    "TlsFileError",
    "Transport",
    "WsnetError",
    "__version__",
    "cancel_and_wait",
    "ctl_command",
    "fingerprint",
    "hookimpl",
    "is_loopback",
    "load_ca",
    "normalize_ip",
    "parse_ip",
    "pem_certificates",
    "redact_text",
    "redact_url",
    "render_result",
    "resolve",
    "start_dial",
    "stop_dial",
    "toml_dumps",
]


# Hidden from type checkers: a module __getattr__ makes mypy and IDEs accept any name
# (`from wsnet import StreamServce` would type as Any), while the TYPE_CHECKING imports
# above give them exactly the public names.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        found = _EXPORTS.get(name)
        if found is None:
            raise AttributeError(f"module 'wsnet' has no attribute {name!r}")
        module, attr = found
        value = getattr(importlib.import_module(module, __name__), attr)
        globals()[name] = value  # later lookups do not come here again
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
