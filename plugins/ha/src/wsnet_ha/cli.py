"""`wsnet ha ...`: HA groups of a running node."""

from __future__ import annotations

import typer

from wsnet import CtlClient, ctl_command, render_result

ha_app = typer.Typer(help="Active/standby HA groups of a running node (plugin wsnet-ha).",
                     no_args_is_help=True)  # fmt: skip
COLUMNS = ("group", "member", "priority", "state", "changes", "last_cause", "last_reason")


@ha_app.command("status")
@ctl_command
def status(ctl: CtlClient) -> None:
    """Members of each group with their state and the last change."""
    typer.echo(render_result(ctl.call("ha", {}), COLUMNS))


@ha_app.command("promote")
@ctl_command
def promote(group: str, member: str, ctl: CtlClient) -> None:
    """Switch GROUP over to MEMBER now (a planned switchover)."""
    typer.echo(render_result(ctl.call("hapromote", {"group": group, "member": member})))
