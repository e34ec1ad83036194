"""Built-in transport: ws:// and wss:// links dialled with aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any, TypedDict

import aiohttp

from ..config import Config, Section
from ..control import convert_param
from ..credentials import basic_authorization, password_of, read_password_file, split_userinfo
from ..errors import ConfigError
from ..interfaces import DialedSocket, Transport
from ..node import Node
from ..proxy import parse_proxy_url, proxy_for
from ..server import SUBPROTOCOL
from ..tls import TlsFileError, client_context
from .dial_errors import BODY_LIMIT, explain, refused_upgrade
from .proxy_connector import ProxyConnector

log = logging.getLogger("wsnet.transport")
CONNECT_TIMEOUT = 15.0  # seconds for TCP, TLS and a proxy's CONNECT together
HANDSHAKE_TIMEOUT = 10.0  # [[dial]] handshake_timeout: seconds to wait for the upgrade response


def client_ssl(options: Mapping[str, Any]) -> ssl.SSLContext:
    """TLS settings of a dial entry: ``ca_file`` to verify against, ``insecure`` to not
    verify, ``cert_file``/``key_file`` to present a client certificate (mTLS)."""
    try:
        return client_context(
            ca_file=str(options.get("ca_file", "")),
            insecure=bool(options.get("insecure", False)),
            cert_file=str(options.get("cert_file", "")),
            key_file=str(options.get("key_file", "")),
        )
    except TlsFileError as exc:
        # Files are checked at start-up; this is a file that changed since (or `ctl dial`).
        raise ValueError(f"{_TLS_KEYS[exc.role]} {exc}") from None


def ca_context(path: str) -> ssl.SSLContext:
    """A verifying context for the CA bundle at ``path``; ValueError names option and path."""
    try:
        return client_context(ca_file=path)
    except TlsFileError as exc:
        raise ValueError(f"ca_file {exc}") from None


_TLS_KEYS = {"ca": "ca_file", "cert": "cert_file", "key": "key_file"}


def check_dial_options(section: Section) -> None:
    """Validate the built-in transport's options of one [[dial]] entry (at start-up)."""
    insecure = section.get_bool("insecure", False)
    headers = section.table("headers")
    for name in headers.data:
        headers.get_str(name)
    files = {key: section.get_str(key, "") for key in ("ca_file", "cert_file", "key_file")}
    if files["key_file"] and not files["cert_file"]:
        raise section.error("key_file", "needs cert_file (the client certificate)")
    try:
        client_context(
            ca_file=files["ca_file"],
            insecure=insecure,
            cert_file=files["cert_file"],
            key_file=files["key_file"],
        )
    except TlsFileError as exc:
        raise section.error(_TLS_KEYS[exc.role], str(exc)) from None
    wait = section.get_float("handshake_timeout", HANDSHAKE_TIMEOUT)
    if not math.isfinite(wait):
        raise section.error("handshake_timeout", f"expected a finite number > 0, got {wait}")


def check_auth_options(section: Section) -> None:
    """user/password/password_file and proxy of one [[dial]] entry (at start-up)."""
    user = section.get_str("user", "")
    section.get_str("password", "")
    pw_file = section.get_str("password_file", "")
    if pw_file:
        try:
            read_password_file(pw_file)
        except ValueError as exc:
            raise section.error("password_file", str(exc)) from None
    if user and password_of(section.data, os.environ) is None:
        raise section.error(
            "user", f"no password for {user!r}: set password_file, or WSNET_PASSWORD"
        )
    proxy = section.get_str("proxy", "")
    if proxy and proxy != "none":
        try:
            parse_proxy_url(proxy)
        except ValueError as exc:
            raise section.error("proxy", str(exc)) from None


def check_options(section: Section) -> None:
    """Every check of the built-in transport's options of one dial (TLS, auth, proxy)."""
    check_dial_options(section)
    check_auth_options(section)


class RunTimeDialOptions(TypedDict, total=False):
    """The options of a run-time dial (`ctl dial`, `addport client`) and their types, to
    which words from a command line are converted (``insecure=true`` is True)."""

    ca_file: str
    insecure: bool
    cert_file: str
    key_file: str
    user: str
    password_file: str
    proxy: str
    handshake_timeout: float


def check_run_time_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every check of a run-time dial's options (`ctl dial`, `addport client`), unknown
    keys included; returns them converted to their types (RunTimeDialOptions).  Raises
    ConfigError naming the key, or RpcError (-32602) for a value of the wrong type.
    ``password`` is refused: given at run time it would travel on a command line."""
    types_ = typing.get_type_hints(RunTimeDialOptions)
    options = {k: convert_param(k, v, types_.get(k, Any)) for k, v in options.items()}
    if "password" in options:
        raise ConfigError("run time", "password", "not accepted here (it would be on a "
                          "command line): use password_file, or $WSNET_PASSWORD")  # fmt: skip
    section = Section(dict(options), "run time", "")
    check_options(section)
    section.done()
    return options


def wsnet_configure(config: Config) -> None:
    # Entries from the file come first in config.dial, so #N matches the file's numbering
    # (--dial entries carry no options).
    for i, dial in enumerate(config.dial, 1):
        if dial.url.partition(":")[0] in WsTransport.schemes:
            check_options(Section(dial.options, config.source, f"[[dial]] #{i}"))


class WsTransport(Transport):
    schemes = ("ws", "wss")

    def __init__(self, node: Node) -> None:
        self.node = node
        self._warned_insecure: set[str] = set()  # once per dial entry, not per retry
        self._warned_url_password: set[str] = set()

    def _credentials(self, url: str, options: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """The URL without user:password@ and the headers, with Authorization if a user."""
        clean, url_user, url_password = split_userinfo(url)
        headers = {str(k): str(v) for k, v in dict(options.get("headers", {})).items()}
        user = str(options.get("user", "")) or url_user
        if not user:
            return clean, headers
        if url_user and clean not in self._warned_url_password:
            self._warned_url_password.add(clean)
            log.warning("dial %s: credentials in the URL show in logs and ps; use user and "
                        "password_file", clean)  # fmt: skip
        password = url_password if url_user and not options.get("user") else None
        if password is None:
            password = password_of(options, os.environ)
        if password is None:
            where = "password_file, $WSNET_PASSWORD"
            raise ConnectionError(f"{clean}: no password for {user!r} ({where})")
        headers["Authorization"] = basic_authorization(user, password)
        return clean, headers

    def _tls(self, url: str, options: Mapping[str, Any]) -> ssl.SSLContext | bool:
        if not url.startswith("wss:"):
            return True
        if options.get("insecure") and url not in self._warned_insecure:
            self._warned_insecure.add(url)
            log.warning(
                "dial %s: insecure = true: the server certificate is NOT verified; "
                "anyone on the path can read and change this link",
                url,
            )
        return client_ssl(options)

    async def dial(self, url: str, options: Mapping[str, Any]) -> DialedSocket:
        url, headers = self._credentials(url, options)
        tls = self._tls(url, options)
        proxy = proxy_for(url, str(options.get("proxy", "")), os.environ)
        connector = None
        if proxy is not None:
            connector = ProxyConnector(proxy, tls if isinstance(tls, ssl.SSLContext) else None)
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        # sock_read bounds the wait for the upgrade response once connected (a server that
        # accepts and never answers); aiohttp (>= 3.10) drops it when the WebSocket is up.
        # It is per read, so a response trickled a byte at a time would never end: the
        # whole response gets ``wait`` seconds from the moment the request was sent.
        wait = float(options.get("handshake_timeout", HANDSHAKE_TIMEOUT))
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
        options: Mapping[str, Any],
        tls: ssl.SSLContext | bool,
        headers: dict[str, str],
        timeout: aiohttp.ClientWSTimeout,
        refusal: Mapping[str, bytes],
    ) -> aiohttp.ClientWebSocketResponse:
        """ws_connect, with its failures turned into one line a person can act on."""
        try:
            return await session.ws_connect(
                url,
                protocols=(SUBPROTOCOL,),
                max_msg_size=self.node.config.limits.max_message + 1,  # aiohttp: limit exclusive
                compress=0,
                autoping=True,
                timeout=timeout,
                ssl=tls,
                headers=headers,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                user = headers.get("Authorization") and (options.get("user") or "the URL's user")
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


def wsnet_register_transports(node: Node) -> Iterable[Transport]:
    return [WsTransport(node)]
