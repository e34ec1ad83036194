"""`wsnet mtls ...`: helpers for [mtls] (entry point ``mtls`` in the group wsnet.commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wsnet import TlsFileError

from .settings import parse_pin

mtls_app = typer.Typer(help="mTLS helpers (plugin wsnet-mtls).", no_args_is_help=True)


@mtls_app.command()
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
