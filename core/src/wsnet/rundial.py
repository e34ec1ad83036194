"""Links dialled at run time by a control method (`dial`, the switch's `addport client`).

One place for the checks every such method owes: a node with a runtime, a ws(s) URL,
the caller's right to options that read files on the node, and options the ws
transport accepts.  Exported from ``wsnet`` for plugins (the switch uses both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import DialConfig
from .errors import ConfigError, ControlError
from .redact import redact_url

if TYPE_CHECKING:
    from .api import NodeAPI as Node
    from .dialer import Dialer


def start_dial(
    node: Node, method: str, url: str, options: Mapping[str, Any], peer: str = "", prefix: str = ""
) -> Dialer:
    """Dial ``url`` from ``node`` until the link is removed; returns the dialer (``.info()``).

    ``method`` names the control method for the ``METHOD:files`` grant; ``prefix`` starts
    the messages of a bad URL or option.  Raises ControlError (code FORBIDDEN for a caller
    who may not use file options), before anything is dialled or any file is read.
    """
    # Imported here: the runtime and the built-in methods import most of the core.
    from .builtin.core_methods import check_file_options
    from .runtime import RUNTIME
    from .transport.ws.checks import check_run_time_options

    rt = node.stash.get(RUNTIME, None)
    if rt is None:
        raise ControlError("this node has no runtime to dial from")
    if not url.startswith(("ws://", "wss://")):
        raise ControlError(f"{prefix}expected a ws:// or wss:// URL, got {redact_url(url)!r}")
    check_file_options(node, method, options, url)
    try:  # converted as the dispatcher converts typed parameters ("true" is True)
        checked = check_run_time_options(dict(options))
    except ConfigError as exc:
        raise ControlError(f"{prefix}{exc.key}: {exc.detail}") from None
    return rt.add_dialer(DialConfig(url=url, peer=peer, options=dict(checked)))


async def stop_dial(node: Node, url: str) -> bool:
    """Stop dialling ``url`` (as given to start_dial); False when nothing dials it."""
    from .runtime import RUNTIME

    rt = node.stash.get(RUNTIME, None)
    return rt is not None and await rt.remove_dialer(url)
