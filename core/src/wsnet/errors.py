"""Exceptions of the wsnet core that a user or plugin author may see."""

from __future__ import annotations

from .redact import redact_text


class WsnetError(Exception):
    """Base class: a failure with a message meant for a person."""


class ConfigError(WsnetError):
    """Bad configuration.  The message names the file and the key; a URL in it is shown
    with its password masked (a rejected proxy URL is echoed back to say why)."""

    def __init__(self, source: str, key: str, message: str) -> None:
        message = redact_text(message)
        super().__init__(f"{source}: {key}: {message}")
        self.source = source
        self.key = key
        self.detail = message


class PluginError(WsnetError):
    """A plugin cannot be found, imported or validated."""


class ChannelRefused(WsnetError):
    """The far end (or a relay) refused or reset a channel."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason or f"channel refused (code {code})")
        self.code = code
        self.reason = reason


class ControlError(WsnetError):
    """Raised by a control-API method; becomes a JSON-RPC error for the caller (any URL
    in the message with its password masked)."""

    def __init__(self, message: str, code: int = -32000) -> None:
        super().__init__(redact_text(message))
        self.code = code
