"""`wsnet ha ...`: HA groups of a running node."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wsnet.ctl import DEFAULT_URL, CtlError, call, render

ha_app = typer.Typer(help="Active/standby HA groups of a running node (plugin wsnet-ha).",
                     no_args_is_help=True)  # fmt: skip
CtlUrl = Annotated[str, typer.Option(envvar="WSNET_CTLURL", help="control API URL")]
COLUMNS = ("group", "member", "priority", "state", "changes", "last_cause", "last_reason")


def _call(url: str, method: str, params: dict[str, Any]) -> Any:
    try:
        return call(url, method, params)
    except CtlError as exc:
        typer.echo(f"wsnet ha: {exc}", err=True)
        raise typer.Exit(1) from None


@ha_app.command("status")
def status(ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """Members of each group with their state and the last change."""
    typer.echo(render(_call(ctlurl, "ha", {}), COLUMNS))


@ha_app.command("promote")
def promote(group: str, member: str, ctlurl: CtlUrl = DEFAULT_URL) -> None:
    """Switch GROUP over to MEMBER now (a planned switchover)."""
    typer.echo(render(_call(ctlurl, "hapromote", {"group": group, "member": member})))
