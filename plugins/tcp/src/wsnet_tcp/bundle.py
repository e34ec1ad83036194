"""Split tcp-over-websocket's combined PEM bundle into a certificate chain and a key.

Its README builds the bundle as ``cat Root.crt CA.crt MyCert.{crt,key}``: the root comes
first and the key last, while OpenSSL (and so wsnet's ``tls_cert``) wants the node's own
certificate first.  The certificate that belongs to the key is found by asking OpenSSL to
load each candidate with the key, so no certificate parser is needed.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
from pathlib import Path

_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)
_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----\r?\n.*?-----END \1PRIVATE KEY-----",
                  re.DOTALL)  # fmt: skip


class BundleError(ValueError):
    pass


def _matches(cert: str, key: str, scratch: Path) -> bool:
    """Whether ``key`` is the private key of ``cert`` (OpenSSL's own check)."""
    (scratch / "c.pem").write_text(cert + "\n")
    (scratch / "k.pem").write_text(key + "\n")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(scratch / "c.pem", scratch / "k.pem")
    except ssl.SSLError:
        return False
    return True


def split_bundle(text: str, where: str) -> tuple[str, str]:
    """(certificate chain with the key's certificate first, the key) of a bundle's text."""
    certs = _CERT.findall(text)
    keys = [m.group(0) for m in _KEY.finditer(text)]
    if not certs or len(keys) != 1:
        raise BundleError(f"{where}: expected certificates and one private key, found "
                          f"{len(certs)} certificate(s) and {len(keys)} key(s)")  # fmt: skip
    if "ENCRYPTED" in keys[0]:
        raise BundleError(f"{where}: the private key is encrypted; decrypt it first")
    with tempfile.TemporaryDirectory() as scratch:
        own = [c for c in certs if _matches(c, keys[0], Path(scratch))]
    if not own:
        raise BundleError(f"{where}: no certificate in the bundle matches its private key")
    # The rest in reverse: the README's order is root, CA; a chain goes leaf, CA, root.
    chain = [own[0], *reversed([c for c in certs if c != own[0]])]
    return "\n".join(chain) + "\n", keys[0] + "\n"


def write_split(bundle: str, cert_out: Path, key_out: Path) -> None:
    """Read ``bundle``, write its chain to ``cert_out`` and its key (mode 0600) to ``key_out``."""
    try:
        text = Path(bundle).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{bundle}: {getattr(exc, 'strerror', None) or exc}") from None
    chain, key = split_bundle(text, bundle)
    cert_out.write_text(chain)
    fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)


def common_names(text: str) -> list[str] | None:
    """The subject CNs of the certificates in a PEM bundle's text, in order; None when
    ``cryptography`` (not a dependency of wsnet-tcp) is not installed to read them."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    names: list[str] = []
    for pem in _CERT.findall(text):
        cert = x509.load_pem_x509_certificate(pem.encode())
        names += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return names
