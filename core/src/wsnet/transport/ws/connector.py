"""An aiohttp connector whose connections go through an HTTP proxy's CONNECT tunnel.

aiohttp's own proxy support forwards plain ws:// requests instead of tunnelling
them, which breaks the WebSocket upgrade at most proxies; this connector always
tunnels, then runs TLS (for wss://) end to end inside the tunnel.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import aiohttp

from .proxy import Proxy, open_tunnel

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler


class ProxyConnector(aiohttp.BaseConnector):
    def __init__(self, proxy: Proxy, tls: ssl.SSLContext | None, timeout: float = 15.0) -> None:
        super().__init__(force_close=True, limit=1)
        self.proxy = proxy
        self.tls = tls
        self.timeout = timeout

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
        host, port = req.url.raw_host or "", req.url.port or 80
        sock = await open_tunnel(self.proxy, host, port, self.timeout)
        try:
            _, proto = await self._loop.create_connection(
                self._factory,
                sock=sock,
                ssl=self.tls,
                server_hostname=host if self.tls else None,
            )
        except BaseException:
            sock.close()
            raise
        return proto
