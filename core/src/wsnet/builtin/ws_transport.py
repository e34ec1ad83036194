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
from ..tls import TlsFileError, client_context

log = logging.getLogger("wsnet.transport")


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
        self._warned_insecure: set[str] = set()  # once per dial entry, not per retry

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
                ssl=self._tls(url, options),
                headers=dict(options.get("headers", {})),
            )
        except aiohttp.ClientConnectorCertificateError as exc:
            await session.close()
            raise ConnectionError(_verify_failed(url, options, exc)) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            await session.close()
            if url.startswith("wss:") and not isinstance(exc, aiohttp.ClientConnectorError):
                raise ConnectionError(_tls_dropped(url, options, exc)) from None
            raise
        except BaseException:
            await session.close()
            raise
        return DialedSocket(ws=ws, remote=url, aclose=session.close)


def _tls_dropped(url: str, options: Mapping[str, Any], exc: Exception) -> str:
    """A wss:// server that hangs up right after the handshake has (with TLS 1.3, where its
    alert is lost) most likely refused our client certificate or our lack of one."""
    cert = options.get("cert_file")
    ours = f"the client certificate {cert!r}" if cert else "no client certificate (cert_file)"
    return (
        f"{url} closed the TLS connection ({exc}); if it requires client certificates "
        f"(mTLS), it refused {ours}"
    )


def _verify_failed(url: str, options: Mapping[str, Any], exc: Exception) -> str:
    """One line saying that (and against what) the server certificate did not verify."""
    cert_error = getattr(exc, "certificate_error", exc)
    detail = getattr(cert_error, "verify_message", "") or str(cert_error)
    against = f"ca_file {options['ca_file']!r}" if options.get("ca_file") else "the system CAs"
    return f"TLS certificate verify failed for {url}: {detail} (checked against {against})"


def wsnet_register_transports(node: Node) -> Iterable[Transport]:
    return [WsTransport(node)]
