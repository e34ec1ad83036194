"""TLS contexts for the link listener, the control API, diallers and `wsnet ctl`.

Every file is checked before OpenSSL sees it, so that an error says which file is
wrong and why ("not a PEM certificate", "key does not match the certificate")
instead of OpenSSL's "[SSL] PEM lib".  Callers turn a TlsFileError into a
config or flag error naming their key (``role`` tells which of their files it was).
"""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path

_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


class TlsFileError(ValueError):
    """A certificate, key or CA file that cannot be used; ``role`` is cert, key or ca."""

    def __init__(self, role: str, path: str, problem: str) -> None:
        super().__init__(f"{path!r}: {problem}")
        self.role = role
        self.path = path
        self.problem = problem


class _EncryptedKey(Exception):
    """Raised from the password callback: wsnet never prompts for a key passphrase."""


def _read(role: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except OSError as exc:
        raise TlsFileError(role, path, exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise TlsFileError(
            role, path, "not a PEM file (binary data; DER is not supported)"
        ) from None


def pem_certificates(role: str, path: str) -> list[str]:
    """The PEM certificate blocks of ``path``, each checked by OpenSSL."""
    blocks = _CERT_RE.findall(_read(role, path))
    if not blocks:
        raise TlsFileError(role, path, "not a PEM certificate (no BEGIN CERTIFICATE block)")
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cadata="\n".join(blocks))
    except ssl.SSLError as exc:
        raise TlsFileError(role, path, f"malformed certificate ({exc.reason or exc})") from None
    return blocks


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as lower-case hex (what pinning compares)."""
    return hashlib.sha256(der).hexdigest()


def load_cert_and_key(ctx: ssl.SSLContext, cert_file: str, key_file: str) -> None:
    """Load a certificate chain and its private key into ``ctx``, naming the bad file."""
    pem_certificates("cert", cert_file)
    key_text = _read("key", key_file or cert_file)
    role, path = ("key", key_file) if key_file else ("cert", cert_file)
    if "PRIVATE KEY-----" not in key_text:
        raise TlsFileError(role, path, "not a PEM private key (no BEGIN ... PRIVATE KEY block)")
    if "ENCRYPTED" in key_text:
        raise TlsFileError(role, path, _ENCRYPTED)

    def no_password() -> str:
        raise _EncryptedKey

    try:
        ctx.load_cert_chain(cert_file, key_file or None, password=no_password)
    except _EncryptedKey:
        raise TlsFileError(role, path, _ENCRYPTED) from None
    except ssl.SSLError as exc:
        text = f"{exc.reason or ''} {exc}"
        if "KEY_VALUES_MISMATCH" in text or "key values mismatch" in text:
            problem = f"private key does not match the certificate in {cert_file!r}"
        else:
            problem = f"not a usable private key ({exc.reason or exc})"
        raise TlsFileError(role, path, problem) from None
    except OSError as exc:
        raise TlsFileError(role, path, exc.strerror or str(exc)) from None


_ENCRYPTED = (
    "the private key is encrypted; wsnet does not prompt for passphrases "
    "(decrypt it: openssl pkey -in KEY -out KEY.plain)"
)


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context (TLS 1.2+) presenting ``cert_file`` with ``key_file``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_cert_and_key(ctx, cert_file, key_file)
    return ctx


def load_ca(ctx: ssl.SSLContext, ca_file: str) -> None:
    """Trust the certificates of ``ca_file`` in ``ctx`` (role "ca" in errors)."""
    blocks = pem_certificates("ca", ca_file)
    ctx.load_verify_locations(cadata="\n".join(blocks))


def client_context(
    *, ca_file: str = "", insecure: bool = False, cert_file: str = "", key_file: str = ""
) -> ssl.SSLContext:
    """A client context: verify against ``ca_file`` (else the system CAs) unless ``insecure``.

    ``cert_file``/``key_file`` present a client certificate (for servers that require one).
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file:
        # Only the given CA: a private CA should not widen to every public one.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        load_ca(ctx, ca_file)
    if cert_file:
        load_cert_and_key(ctx, cert_file, key_file)
    elif key_file:
        raise TlsFileError("key", key_file, "a client key needs its certificate (cert_file)")
    return ctx
