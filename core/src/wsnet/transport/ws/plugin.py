"""The ws/wss transport as a built-in plugin: its config checks and its transport."""

from __future__ import annotations

from collections.abc import Iterable

from ...config import DIAL_OPTIONS, Config, Section
from ...interfaces import Transport
from ...node import Node
from .checks import check_section
from .options import fields
from .transport import WsTransport

# The [[dial]] keys this transport reads: known to Config.check_unclaimed, which runs after
# the plugins (this built-in one first) are imported.
DIAL_OPTIONS.update(f.name for f in fields())


def wsnet_configure(config: Config) -> None:
    # Entries from the file come first in config.dial, so #N matches the file's numbering
    # (--dial entries carry the flags' options, checked with the flags' names before).
    for i, dial in enumerate(config.dial, 1):
        if dial.url.partition(":")[0] in WsTransport.schemes:
            check_section(Section(dial.options, config.source, f"[[dial]] #{i}"))


def wsnet_register_transports(node: Node) -> Iterable[Transport]:
    return [WsTransport(node)]
