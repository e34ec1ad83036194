"""Hook implementations of wsnet-log: the [log] section and the observer."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from wsnet import Config, NodeAPI, Observer, Section, StashKey

from .observer import EventLogger, LogSettings

SETTINGS: StashKey[LogSettings] = StashKey("log.settings")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def wsnet_configure(config: Config) -> None:
    config.stash[SETTINGS] = parse_settings(config.section("log"))


def parse_settings(s: Section) -> LogSettings:
    fmt = s.get_str("format", "text")
    if fmt not in ("text", "json"):
        raise s.error("format", f'expected "text" or "json", got {fmt!r}')
    levels = []
    table = s.table("levels")
    for pattern, name in table.data.items():
        if not isinstance(name, str) or name.lower() not in _LEVELS:
            raise table.error(pattern, f"expected one of {', '.join(_LEVELS)}, got {name!r}")
        levels.append((pattern, _LEVELS[name.lower()]))
    settings = LogSettings(
        include=tuple(s.get_str_list("include", ["*"])),
        exclude=tuple(s.get_str_list("exclude", [])),
        format=fmt,
        levels=tuple(levels),
    )
    s.done()
    return settings


def wsnet_register_observers(node: NodeAPI) -> Iterable[Observer]:
    # Defaults when embedded without wsnet_configure (a NodeAPI built by hand in a test).
    settings = node.config.stash.get(SETTINGS, LogSettings())
    return [EventLogger(node.name, settings)]
