"""Hook implementations of wsnet-mtls: [mtls], the listener's TLS context, the authenticator."""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from wsnet import Authenticator, Config, NodeAPI, StashKey, load_ca

from .auth import MtlsAuthenticator
from .settings import MtlsSettings, parse_settings

SETTINGS: StashKey[MtlsSettings] = StashKey("mtls.settings")


def wsnet_configure(config: Config) -> None:
    config.stash[SETTINGS] = parse_settings(config, config.section("mtls"))


def wsnet_tls_server_context(node: NodeAPI, context: ssl.SSLContext, scope: str) -> None:
    settings = node.stash.get(SETTINGS, None)
    if settings is None or scope not in settings.scopes:
        return  # built without wsnet_configure (no CA), or a listener [mtls] leaves alone
    context.verify_mode = ssl.CERT_REQUIRED
    load_ca(context, settings.ca_file)


def wsnet_register_authenticators(node: NodeAPI) -> Iterable[Authenticator]:
    settings = node.stash.get(SETTINGS, None)
    return [MtlsAuthenticator(settings)] if settings is not None else []
