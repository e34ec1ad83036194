"""Built-in control methods: status, links, routes, channels, dials, plugins, help."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, cast

from ..api import NodeAPI
from ..control import FORBIDDEN, control_caller, signature_text
from ..errors import ControlError
from ..interfaces import ControlMethod
from ..node import Node
from ..plugins import describe_installed
from ..rows import ChannelRow, DialRow, HelpRow, LinkRow, PluginRow, RouteRow, StatusRow
from ..rundial import start_dial
from ..transport.ws.credentials import PASSWORD_ENV, split_userinfo
from ..transport.ws.ctl_dial import with_dial_options
from ..transport.ws.options import file_options

# Run-time dial options that make the node read a local file (declared so in the option
# model): password_file sends its first line to the dialled URL; the TLS files' errors
# tell whether a path exists.  password_file first: a refusal names the worst one.
FILE_OPTIONS = tuple(sorted(file_options(), key=lambda key: key != "password_file"))


def check_file_options(node: NodeAPI, method: str, options: Mapping[str, Any], url: str) -> None:
    """Refuse FILE_OPTIONS in a run-time ``method`` call unless its caller may use them:
    an authenticated caller needs the [authz] ``call`` grant ``METHOD:files``, a caller of
    an API without users needs ``[control] allow_file_options = true``.  Checked before
    any file is touched, so a refused caller learns nothing about the file either.

    A dial with a user and no password of the caller's own would send the node's
    $WSNET_PASSWORD to ``url``: the same secret-reading privilege."""
    used = [key for key in FILE_OPTIONS if options.get(key)]
    if _sends_env_password(options, url):
        used.append(f"${PASSWORD_ENV}")
    if not used:
        return
    caller = control_caller()
    if caller is None:
        if node.config.control.allow_file_options:
            return
        why = "[control] allow_file_options is false"
    else:
        denial = node.authorize(caller, "call", f"{method}:files")
        if denial is None:
            return
        why = f"{caller.name!r} needs the call grant '{method}:files': {denial}"
    raise ControlError(f"{used[0]}: options that read files on the node are refused ({why})",
                       code=FORBIDDEN)  # fmt: skip


def _sends_env_password(options: Mapping[str, Any], url: str) -> bool:
    """Would a dial of ``url`` with ``options`` take its password from $WSNET_PASSWORD?"""
    if PASSWORD_ENV not in os.environ or "password" in options or options.get("password_file"):
        return False
    _, url_user, url_password = split_userinfo(url)
    return bool(options.get("user")) or (bool(url_user) and url_password is None)


def methods(node: Node) -> list[ControlMethod]:
    from ..runtime import RUNTIME  # runtime imports this module's siblings

    async def status() -> StatusRow:
        rt = node.stash.get(RUNTIME, None)
        return cast(StatusRow, {**node.status(), **(rt.listener_status() if rt else {})})

    async def links() -> list[LinkRow]:
        return [cast(LinkRow, link.info()) for link in node.links.values()]

    async def routes() -> list[RouteRow]:
        return [
            RouteRow(node=r.node, via=r.via, link=r.link_id, hops=r.hops)
            for r in node.routing.routes()
        ]

    async def channels(peer: str = "") -> list[ChannelRow]:
        return [
            cast(ChannelRow, ch.info())
            for link in node.links.values()
            if not peer or link.peer == peer
            for ch in link.channels.values()
        ]

    async def dials() -> list[DialRow]:
        rt = node.stash.get(RUNTIME, None)
        return [cast(DialRow, d.info()) for d in rt.dialers] if rt else []

    @with_dial_options  # the transport's run-time options (ca_file, insecure, ...)
    async def dial(url: str, peer: str = "", **options: Any) -> DialRow:
        # No `password`: it would travel on a command line (password_file or
        # $WSNET_PASSWORD instead); start_dial checks the options as at start-up.
        return cast(DialRow, start_dial(node, "dial", url, options, peer).info())

    async def plugins() -> list[PluginRow]:
        loaded = set(node.plugins.names)
        return [
            PluginRow(
                name=p.name,
                version=p.version,
                loaded=p.name in loaded,
                hooks=", ".join(h.removeprefix("wsnet_") for h in p.hooks),
                error=p.error,
            )
            for p in describe_installed()
        ]

    async def help() -> list[HelpRow]:
        return [
            HelpRow(method=m.name, params=signature_text(m), help=m.help)
            for m in sorted(node.control_methods.values(), key=lambda m: m.name)
        ]

    return [
        ControlMethod("status", status, "node name, addresses, counts"),
        ControlMethod(
            "links",
            links,
            "established links with traffic counters",
            ("id", "peer", "direction", "remote", "rtt_ms", "channels", "bytes_in", "bytes_out"),
        ),
        ControlMethod("routes", routes, "node names reachable and through which link"),
        ControlMethod("channels", channels, "open channels, optionally of one PEER"),
        ControlMethod("dials", dials, "outgoing links this node keeps up"),
        ControlMethod("dial", dial, "keep a link to URL up from now on"),
        ControlMethod("plugins", plugins, "installed plugins, loaded or not"),
        ControlMethod("help", help, "the control methods of this node"),
    ]


def wsnet_register_control_methods(node: Node) -> Iterable[ControlMethod]:
    return methods(node)
