"""The ws:// and wss:// transport: links dialled with aiohttp, directly or through an HTTP
proxy's CONNECT tunnel (connector.py), with TLS (tls.py), HTTP Basic credentials
(credentials.py) and failures explained in one line (dial_errors.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp

from ...interfaces import DialedSocket, Transport
from ...node import Node
from ...server import SUBPROTOCOL
from ...wsreader import tapping
from .connector import ProxyConnector
from .credentials import basic_authorization, password_of, split_userinfo
from .dial_errors import BODY_LIMIT, explain, refused_upgrade
from .options import CONNECT_TIMEOUT, DialOptions
from .proxy import proxy_for
from .tls import client_ssl

log = logging.getLogger("wsnet.transport")


class WsTransport(Transport):
    schemes = ("ws", "wss")

    def __init__(self, node: Node) -> None:
        self.node = node
        self._warned_insecure: set[str] = set()  # once per dial entry, not per retry
        self._warned_url_password: set[str] = set()

    def _credentials(self, url: str, options: DialOptions) -> tuple[str, dict[str, str]]:
        """The URL without user:password@ and the headers, with Authorization if a user."""
        clean, url_user, url_password = split_userinfo(url)
        headers = {str(k): str(v) for k, v in options.headers.items()}
        user = options.user or url_user
        if not user:
            return clean, headers
        if url_user and clean not in self._warned_url_password:
            self._warned_url_password.add(clean)
            log.warning("dial %s: credentials in the URL show in logs and ps; use user and "
                        "password_file", clean)  # fmt: skip
        password = url_password if url_user and not options.user else None
        if password is None:
            password = password_of(options, os.environ)
        if password is None:
            where = "password_file, $WSNET_PASSWORD"
            raise ConnectionError(f"{clean}: no password for {user!r} ({where})")
        headers["Authorization"] = basic_authorization(user, password)
        return clean, headers

    def _tls(self, url: str, options: DialOptions) -> ssl.SSLContext | bool:
        if not url.startswith("wss:"):
            return True
        if options.insecure and url not in self._warned_insecure:
            self._warned_insecure.add(url)
            log.warning(
                "dial %s: insecure = true: the server certificate is NOT verified; "
                "anyone on the path can read and change this link",
                url,
            )
        return client_ssl(options)

    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        """A WebSocket to ``url`` (see Transport.dial); ``options`` are a DialConfig's,
        checked at start-up (checks.py).  Raises ConnectionError with one line saying why."""
        return await self._dial(url, DialOptions.of(options))

    async def _dial(self, url: str, options: DialOptions) -> DialedSocket:
        url, headers = self._credentials(url, options)
        tls = self._tls(url, options)
        proxy = proxy_for(url, options.proxy, os.environ)
        connector = None
        if proxy is not None:
            connector = ProxyConnector(proxy, tls if isinstance(tls, ssl.SSLContext) else None)
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        # sock_read bounds the wait for the upgrade response once connected (a server that
        # accepts and never answers); aiohttp (>= 3.10) drops it when the WebSocket is up.
        # It is per read, so a response trickled a byte at a time would never end: the
        # whole response gets ``wait`` seconds from the moment the request was sent.
        wait = options.handshake_timeout
        deadline = asyncio.timeout(CONNECT_TIMEOUT + wait)
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_respond_within(deadline, wait))
        refusal: dict[str, bytes] = {}
        trace.on_request_end.append(_keep_refusal_body(refusal))
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=10.0, connect=CONNECT_TIMEOUT, sock_read=wait
            ),
            trace_configs=[trace],
        )
        try:
            async with deadline:
                ws = await self._connect(session, url, options, tls, headers, timeout, refusal)
        except TimeoutError:
            await session.close()
            raise ConnectionError(f"no upgrade response within {wait:g}s") from None
        except BaseException:
            await session.close()
            raise
        return DialedSocket(ws=ws, remote=url, aclose=session.close)

    async def _connect(
        self,
        session: aiohttp.ClientSession,
        url: str,
        options: DialOptions,
        tls: ssl.SSLContext | bool,
        headers: dict[str, str],
        timeout: aiohttp.ClientWSTimeout,
        refusal: Mapping[str, bytes],
    ) -> aiohttp.ClientWebSocketResponse:
        """ws_connect, with its failures turned into one line a person can act on."""
        try:
            with tapping():  # its messages can reach the link by callback (wsreader.py)
                return await session.ws_connect(
                    url,
                    protocols=(SUBPROTOCOL,),
                    max_msg_size=self.node.config.limits.max_message + 1,  # limit exclusive
                    compress=0,
                    autoping=True,
                    timeout=timeout,
                    ssl=tls,
                    headers=headers,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                user = headers.get("Authorization") and (options.user or "the URL's user")
                who = f"wrong user or password ({user})" if user else "no credentials (set user)"
                raise ConnectionError(f"{url} refused the link: 401 Unauthorized: {who}") from None
            reason = refusal.get("reason", b"").decode("latin-1")
            raise ConnectionError(
                refused_upgrade(url, exc.status, reason, refusal.get("body", b""))
            ) from None
        except aiohttp.SocketTimeoutError:
            raise TimeoutError from None  # the caller says how long it waited
        except (aiohttp.ClientError, OSError) as exc:
            line = explain(url, options, exc)
            if line is None:
                raise
            raise ConnectionError(line) from None


def _respond_within(
    deadline: asyncio.Timeout, wait: float
) -> Callable[[aiohttp.ClientSession, SimpleNamespace, Any], Awaitable[None]]:
    """A trace hook: once the upgrade request is out, the response has ``wait`` seconds."""

    async def sent(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        deadline.reschedule(asyncio.get_running_loop().time() + wait)

    return sent


def _keep_refusal_body(
    into: dict[str, bytes],
) -> Callable[[aiohttp.ClientSession, SimpleNamespace, Any], Awaitable[None]]:
    """A trace hook: a refused upgrade's reason and body (at most BODY_LIMIT bytes), which
    is the server's own explanation (e.g. wsnet-mtls: a certificate that is not pinned);
    aiohttp's handshake error carries only the status."""

    async def ended(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        response = params.response
        if response.status == 101:
            return
        into["reason"] = str(response.reason or "").encode("latin-1", "replace")
        with contextlib.suppress(aiohttp.ClientError, OSError, ValueError):
            into["body"] = await response.content.read(BODY_LIMIT)

    return ended
