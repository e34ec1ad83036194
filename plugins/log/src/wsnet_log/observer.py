"""Turn node events into log records on the "wsnet.events" logger.

Events arrive per link or channel, never per packet, but a busy node still opens
many channels: each record is built only when its level is enabled, so debug
logging that is off costs one ``isEnabledFor`` call per event.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
from dataclasses import dataclass

from wsnet import NodeEvent, Observer

LOGGER = "wsnet.events"

# Trouble is a warning; per-channel chatter is debug; the rest tells the story of a node.
DEFAULT_LEVELS: dict[str, int] = {
    "link.down": logging.WARNING,
    "link.refused": logging.WARNING,
    "dial.failed": logging.WARNING,
    "auth.failure": logging.WARNING,
    "channel.opened": logging.DEBUG,
    "channel.closed": logging.DEBUG,
}


@dataclass(frozen=True, slots=True)
class LogSettings:
    """What [log] configured: which event kinds, how formatted, level overrides."""

    include: tuple[str, ...] = ("*",)  # fnmatch patterns of event kinds
    exclude: tuple[str, ...] = ()
    format: str = "text"  # "text" (key=value) or "json" (one object per record)
    levels: tuple[tuple[str, int], ...] = ()  # (kind pattern, level) overrides, first wins

    def wants(self, kind: str) -> bool:
        hit = any(fnmatch.fnmatchcase(kind, p) for p in self.include)
        return hit and not any(fnmatch.fnmatchcase(kind, p) for p in self.exclude)

    def level_of(self, kind: str) -> int:
        for pattern, level in self.levels:
            if fnmatch.fnmatchcase(kind, pattern):
                return level
        return DEFAULT_LEVELS.get(kind, logging.INFO)


class EventLogger(Observer):
    def __init__(self, node: str, settings: LogSettings) -> None:
        self.node = node
        self.settings = settings
        self.log = logging.getLogger(LOGGER)
        self._levels: dict[str, int | None] = {}  # kind -> level, None when filtered out

    def _level(self, kind: str) -> int | None:
        if kind not in self._levels:
            wanted = self.settings.wants(kind)
            self._levels[kind] = self.settings.level_of(kind) if wanted else None
        return self._levels[kind]

    def notify(self, event: NodeEvent) -> None:
        level = self._level(event.kind)
        if level is None or not self.log.isEnabledFor(level):
            return
        fields = dataclasses.asdict(event)
        extra = {"wsnet_event": event.kind, "wsnet_node": self.node, "wsnet_fields": fields}
        if self.settings.format == "json":
            body = json.dumps({"event": event.kind, "node": self.node, **fields}, default=str)
            self.log.log(level, "%s", body, extra=extra)
        else:
            self.log.log(level, "%s %s", event.kind, _kv(fields), extra=extra)


def _kv(fields: dict[str, object]) -> str:
    """key=value pairs; strings with spaces or quotes are JSON-quoted so lines stay parseable."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        if isinstance(value, str) and (not text or any(c in text for c in ' "=\n')):
            text = json.dumps(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)
