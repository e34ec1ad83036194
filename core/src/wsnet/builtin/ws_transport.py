"""Built-in transport: ws:// and wss:// links dialled with aiohttp."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from ..config import Config, Section
from ..interfaces import DialedSocket, Transport
from ..node import Node
from ..server import SUBPROTOCOL

log = logging.getLogger("wsnet.transport")


def client_ssl(options: Mapping[str, Any]) -> ssl.SSLContext | bool:
    """TLS settings of a dial entry: ``ca_file`` to verify against, ``insecure`` to not verify."""
    if options.get("insecure"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if options.get("ca_file"):
        return ca_context(str(options["ca_file"]))
    return True


def ca_context(path: str) -> ssl.SSLContext:
    """A verifying context for the CA bundle at ``path``; ValueError names option and path.

    Without this, a missing file surfaced on every dial as a bare
    ``[Errno 2] No such file or directory``, naming neither the option nor the file.
    """
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:  # the file is there but holds no usable certificate
        raise ValueError(f"ca_file {path!r}: not a PEM CA bundle ({exc.reason or exc})") from None
    except OSError as exc:
        raise ValueError(f"ca_file {path!r}: {exc.strerror or exc}") from None


def check_dial_options(section: Section) -> None:
    """Validate the built-in transport's options of one [[dial]] entry (at start-up)."""
    section.get_bool("insecure", False)
    headers = section.table("headers")
    for name in headers.data:
        headers.get_str(name)
    ca_file = section.get_str("ca_file", "")
    if ca_file:
        try:
            ca_context(ca_file)
        except ValueError as exc:
            raise section.error("ca_file", str(exc).removeprefix("ca_file ")) from None


def wsnet_configure(config: Config) -> None:
    # Entries from the file come first in config.dial, so #N matches the file's numbering
    # (--dial entries carry no options).
    for i, dial in enumerate(config.dial, 1):
        if dial.url.partition(":")[0] in WsTransport.schemes:
            check_dial_options(Section(dial.options, config.source, f"[[dial]] #{i}"))


class WsTransport(Transport):
    schemes = ("ws", "wss")

    def __init__(self, node: Node) -> None:
        self.node = node

    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0, connect=15.0),
        )
        try:
            ws = await session.ws_connect(
                url,
                protocols=(SUBPROTOCOL,),
                max_msg_size=self.node.config.limits.max_message,
                compress=0,
                autoping=True,
                timeout=timeout,
                ssl=client_ssl(options) if url.startswith("wss:") else True,
                headers=dict(options.get("headers", {})),
            )
        except BaseException:
            await session.close()
            raise
        return DialedSocket(ws=ws, remote=url, aclose=session.close)


def wsnet_register_transports(node: Node) -> Iterable[Transport]:
    return [WsTransport(node)]
