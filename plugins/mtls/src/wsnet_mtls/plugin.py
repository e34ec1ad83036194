"""Hook implementations of wsnet-mtls: [mtls], the listener's TLS context, the authenticator."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from wsnet import Authenticator, Config, StashKey
from wsnet.node import Node
from wsnet.tls import TlsFileError, load_ca

from .auth import MtlsAuthenticator
from .settings import MtlsSettings, parse_pin, parse_settings

SETTINGS: StashKey[MtlsSettings] = StashKey("mtls.settings")


def wsnet_configure(config: Config) -> None:
    config.stash[SETTINGS] = parse_settings(config, config.section("mtls"))


def wsnet_tls_server_context(node: Node, context: ssl.SSLContext, scope: str) -> None:
    settings = node.stash.get(SETTINGS, None)
    if settings is None or scope not in settings.scopes:
        return  # built without wsnet_configure (no CA), or a listener [mtls] leaves alone
    context.verify_mode = ssl.CERT_REQUIRED
    load_ca(context, settings.ca_file)


def wsnet_register_authenticators(node: Node) -> Iterable[Authenticator]:
    settings = node.stash.get(SETTINGS, None)
    return [MtlsAuthenticator(settings)] if settings is not None else []


def wsnet_register_commands(app: typer.Typer) -> None:
    sub = typer.Typer(help="mTLS helpers (plugin wsnet-mtls).", no_args_is_help=True)

    @sub.command()
    def fingerprint(
        certs: Annotated[list[Path], typer.Argument(help="PEM certificate files")],
    ) -> None:
        """Print the SHA-256 fingerprint of each certificate, for [mtls] pinned."""
        for path in certs:
            try:
                for fp in parse_pin(str(path)):
                    typer.echo(f"{fp}  {path}")
            except TlsFileError as exc:
                typer.echo(f"wsnet: error: {exc}", err=True)
                raise typer.Exit(2) from None

    app.add_typer(sub, name="mtls")
