"""Why a ws:// or wss:// dial failed, in one line that says what happened.

aiohttp wraps the same OpenSSL failure differently on a direct connection
(ClientConnectorCertificateError) and through our proxy connector (ClientOSError),
so the cause is found by walking the exception chain and read from the ssl
module's attributes (``verify_code``, ``reason``), not from message text.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import aiohttp

from .options import DialOptions
from .proxy import ProxyError

# OpenSSL X509_V_ERR_* codes, grouped by what a person has to fix.
_EXPIRED = {10: "has expired", 9: "is not valid yet"}
_HOSTNAME = {62, 64}  # host name mismatch, IP address mismatch
_ISSUER = {2, 18, 19, 20, 21}  # unknown issuer, self-signed (in chain), cannot verify leaf
# TLS alerts a server sends about our client certificate (reason names, as OpenSSL spells them).
_CERT_MISSING = {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "PEER_DID_NOT_RETURN_A_CERTIFICATE"}
_CERT_REFUSED = {
    "TLSV1_ALERT_UNKNOWN_CA": "not signed by a CA it trusts",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "expired",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate unknown",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "access denied",
}
BODY_LIMIT = 512  # bytes of a refused upgrade's body that are read and shown


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first (bounded: chains can be cyclic)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(seen) < 16:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _against(options: DialOptions) -> str:
    return f"ca_file {options.ca_file!r}" if options.ca_file else "the system CAs"


def verify_failed(url: str, options: DialOptions, err: ssl.SSLCertVerificationError) -> str:
    """The server certificate did not verify: untrusted issuer, expired, or another host's."""
    code = err.verify_code
    detail = err.verify_message or str(err)
    host = urlsplit(url).hostname or "?"
    if code in _EXPIRED:
        what = f"the server certificate {_EXPIRED[code]}"
    elif code in _HOSTNAME:
        what = f"the server certificate is not for {host} (host name mismatch)"
    elif code in _ISSUER:
        what = "the server certificate is not signed by a CA we trust (unknown issuer)"
    else:
        what = "the server certificate was refused"
    return (
        f"TLS certificate verify failed for {url}: {what}: {detail} "
        f"(checked against {_against(options)})"
    )


def _ours(options: DialOptions) -> str:
    cert = options.cert_file
    return f"the client certificate {cert!r}" if cert else "no client certificate"


def client_cert_refused(url: str, options: DialOptions, reason: str) -> str:
    """The server's TLS alert about our client certificate (mTLS)."""
    if reason in _CERT_MISSING or not options.cert_file:
        return (f"{url} requires a client certificate (mTLS) and we sent none: set cert_file "
                f"and key_file (TLS alert {reason})")  # fmt: skip
    return (f"{url} refused {_ours(options)} (mTLS): {_CERT_REFUSED.get(reason, reason)} "
            f"(TLS alert {reason})")  # fmt: skip


def closed_after_handshake(url: str, options: DialOptions) -> str:
    """A wss:// server that hangs up once TLS is up, before any HTTP answer.

    An asyncio server (wsnet's own listener) loses its TLS alert when it refuses a client
    certificate, so the close is all we see; whether we sent one tells which case it is."""
    if not options.cert_file:
        return (f"{url} closed the connection right after the TLS handshake: it most likely "
                "requires a client certificate (mTLS) and we sent none (set cert_file and "
                "key_file)")  # fmt: skip
    return (
        f"{url} closed the connection right after the TLS handshake: it most likely does "
        f"not trust {_ours(options)} (mTLS: not signed by a CA it trusts, or expired)"
    )


def explain(url: str, options: DialOptions, exc: BaseException) -> str | None:
    """One line for a failed dial, or None when the exception says enough itself."""
    for cause in causes(exc):
        if isinstance(cause, ProxyError):
            return str(cause)
        if isinstance(cause, aiohttp.ClientConnectorCertificateError):
            cause = cause.certificate_error  # aiohttp's wrapper is an SSLError too, without codes
        if isinstance(cause, ssl.SSLCertVerificationError):
            return verify_failed(url, options, cause)
        if isinstance(cause, ssl.SSLError) and cause.reason and "ALERT" in cause.reason:
            return client_cert_refused(url, options, cause.reason)
        if isinstance(cause, aiohttp.ConnectionTimeoutError):
            return f"{url}: no answer to the TCP connect (timed out)"
        if isinstance(cause, ConnectionRefusedError):
            return f"{url}: connection refused (nothing listens at {_hostport(url)})"
    if url.startswith("wss:") and isinstance(exc, aiohttp.ServerDisconnectedError):
        return closed_after_handshake(url, options)
    return None


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def refused_upgrade(url: str, status: int, reason: str, body: bytes) -> str:
    """A non-101 answer to the upgrade, with the server's own explanation (its body)."""
    text = body[:BODY_LIMIT].decode("utf-8", "replace")
    said = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return f"{url} refused the link: HTTP {status} {reason}" + (f": {said}" if said else "")
