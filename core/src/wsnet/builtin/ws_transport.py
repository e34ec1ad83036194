"""Built-in transport: ws:// and wss:// links dialled with aiohttp."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

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
        return ssl.create_default_context(cafile=str(options["ca_file"]))
    return True


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
