"""Plugin commands of the `wsnet` CLI, found in entry-point metadata and imported on use.

A plugin adds commands with entry points in the group ``wsnet.commands``: the entry point's
name is the command (``wsnet tcp``), its value names a ``typer.Typer`` or click command
(``wsnet_tcp.cli:tcp_app``). The top-level help lists each with its distribution's summary
(the ``description`` of its pyproject.toml), read from metadata, so ``wsnet --help``,
``wsnet version``, ``wsnet run`` and ``wsnet ctl`` import no plugin; the target is imported
only when its command runs (or shows its own help). A target that fails to import is named
and that command exits 2; every other command still works.

This module imports only the standard library and typer (which the CLI has anyway). It never
imports click: typer >= 0.2x carries its own copy (``typer._click``), older ones use click;
contexts and commands are therefore typed ``Any`` here.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

COMMANDS_GROUP = "wsnet.commands"
PLUGINS_GROUP = "wsnet.plugins"  # the same as wsnet.plugins.GROUP, without importing pluggy
PANEL = "Plugin commands"


class CommandLoadError(Exception):
    """A plugin command's target could not be imported or is not a typer.Typer."""


@dataclass(frozen=True, slots=True)
class PluginCommand:
    """One ``wsnet.commands`` entry point: command name, target, and where it comes from."""

    name: str
    target: str  # "module:attr"
    distribution: str
    summary: str  # the distribution's one-line description, shown by `wsnet --help`
    entry_point: md.EntryPoint


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


@cache
def plugin_commands() -> dict[str, PluginCommand]:
    """Every installed plugin command by name; the first distribution (by name) wins a clash."""
    found: dict[str, PluginCommand] = {}
    for ep in sorted(md.entry_points(group=COMMANDS_GROUP), key=lambda e: (_dist_name(e), e.name)):
        if ep.name in found:
            continue
        summary = (ep.dist.metadata["Summary"] or "") if ep.dist is not None else ""
        found[ep.name] = PluginCommand(ep.name, ep.value, _dist_name(ep), summary, ep)
    return found


def commands_by_distribution(core: Collection[str] = ()) -> dict[str, list[str]]:
    """{distribution: [command names it adds]}, for `wsnet plugins`: without the names in
    ``core`` (the core's commands, which stay the core's)."""
    out: dict[str, list[str]] = {}
    for cmd in plugin_commands().values():
        if cmd.name not in core:
            out.setdefault(cmd.distribution, []).append(cmd.name)
    return out


def command_clashes(core: Collection[str]) -> dict[str, list[str]]:
    """{distribution: [why a command it declares is not added]}: a name of the core's, or
    one that an earlier distribution (by name) declares too.  `wsnet plugins` shows them,
    so that a plugin's author sees why `wsnet NAME` never runs their code."""
    out: dict[str, list[str]] = {}
    winners = plugin_commands()
    for ep in md.entry_points(group=COMMANDS_GROUP):
        dist = _dist_name(ep)
        if ep.name in core:
            why = f"command {ep.name!r} is the core's: not added"
        elif winners[ep.name].distribution != dist:
            why = f"command {ep.name!r} is {winners[ep.name].distribution}'s: not added"
        else:
            continue
        out.setdefault(dist, []).append(why)
    return out


def plugin_versions() -> list[tuple[str, str, str]]:
    """(plugin name, distribution, version) of every installed plugin, from metadata only."""
    rows = []
    for ep in md.entry_points(group=PLUGINS_GROUP):
        rows.append((ep.name, _dist_name(ep), ep.dist.version if ep.dist is not None else "?"))
    return sorted(rows)


def load_command(cmd: PluginCommand) -> Any:
    """Import ``cmd``'s target; a failure is one line naming the command and distribution."""
    where = f"plugin command {cmd.name!r} ({cmd.target}, distribution {cmd.distribution})"
    try:
        target: Any = cmd.entry_point.load()
    except Exception as exc:  # any import error: the other commands must keep working
        raise CommandLoadError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(target, typer.Typer):
        raise CommandLoadError(f"{where} is {type(target).__name__}, not a typer.Typer")
    # Exactly what `root.add_typer(target, name=NAME)` made of it when the CLI imported
    # every plugin: a group, without the completion options of a stand-alone app.
    root = typer.Typer(add_completion=False)
    root.add_typer(target, name=cmd.name)
    group = typer.main.get_command(root).commands[cmd.name]  # type: ignore[attr-defined]
    if not target.registered_commands and not target.registered_groups:
        # A single command (docs/plugins.md: a callback with invoke_without_command): its
        # options may follow its arguments (`wsnet x NODE --opt v`), as for any command;
        # as a group, click took `--opt` for a subcommand and said "Missing argument".
        group.allow_interspersed_args = True
        group.subcommand_metavar = ""
    return group


class LazyPluginGroup(TyperGroup):
    """The root command group: core commands as usual, plugin commands resolved on use."""

    def list_commands(self, ctx: Any) -> list[str]:
        core = super().list_commands(ctx)
        return core + sorted(n for n in plugin_commands() if n not in self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """For help listings: a stand-in that carries the summary and imports nothing."""
        core = super().get_command(ctx, cmd_name)
        if core is not None:
            return core
        cmd = plugin_commands().get(cmd_name)
        if cmd is None:
            return None
        return TyperCommand(
            cmd_name, help=cmd.summary, short_help=cmd.summary, rich_help_panel=PANEL
        )

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """For running a command: the real one, its plugin module imported only now."""
        name = args[0] if args else ""
        cmd = None if name in self.commands else plugin_commands().get(name)
        if cmd is None:
            return super().resolve_command(ctx, args)
        try:
            return name, load_command(cmd), args[1:]
        except CommandLoadError as exc:
            typer.echo(f"wsnet: error: {exc}", err=True)
            raise typer.Exit(2) from None
