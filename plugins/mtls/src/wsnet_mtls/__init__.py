"""wsnet-mtls: client certificates on the link listener and/or the control API (entry point
``mtls``)."""

from .auth import MtlsAuthenticator
from .settings import MtlsSettings, parse_pin, parse_settings, principal_from_cert

__all__ = [
    "MtlsAuthenticator",
    "MtlsSettings",
    "parse_pin",
    "parse_settings",
    "principal_from_cert",
]
