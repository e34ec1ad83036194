"""The [mtls] section and the pure parts: pins and principals from certificates.

No sockets here, so pin parsing and subject naming are unit-tested without TLS.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsnet import Config, Principal, Section, TlsFileError, fingerprint, pem_certificates

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Short names of subject attributes as `openssl x509 -subject` prints them.
_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
}


SCOPES = ("link", "control")


@dataclass(frozen=True, slots=True)
class MtlsSettings:
    ca_file: str
    pinned: frozenset[str] = frozenset()  # SHA-256 fingerprints, lower-case hex; empty: any
    # The listeners that require client certificates: "link" and/or "control".
    scopes: frozenset[str] = frozenset({"link"})


def parse_pin(entry: str) -> list[str]:
    """SHA-256 fingerprints of one ``pinned`` entry: a fingerprint or a PEM file.

    A fingerprint may have colons and a ``sha256:`` prefix (as ``openssl x509
    -fingerprint -sha256`` prints it, ``SHA256 Fingerprint=AB:CD:...``).
    Raises TlsFileError for a file that cannot be used.
    """
    text = entry.strip()
    if "=" in text and text.lower().startswith("sha256"):
        text = text.split("=", 1)[1]
    text = text.removeprefix("sha256:").removeprefix("SHA256:").replace(":", "").lower()
    if _HEX64.match(text):
        return [text]
    return [fingerprint(ssl.PEM_cert_to_DER_cert(b)) for b in pem_certificates("pin", entry)]


def parse_settings(config: Config, s: Section) -> MtlsSettings:
    ca_file = s.get_str("ca_file")
    try:
        pem_certificates("ca", ca_file)
    except TlsFileError as exc:
        raise s.error("ca_file", str(exc)) from None
    pins: set[str] = set()
    for i, entry in enumerate(s.get_str_list("pinned", []), 1):
        try:
            pins.update(parse_pin(entry))
        except TlsFileError as exc:
            raise s.error(
                "pinned", f"entry #{i}: neither a SHA-256 fingerprint nor a certificate: {exc}"
            ) from None
    scopes = _scopes(s)
    s.done()
    if "link" in scopes:
        _check_link_listener(config, s)
    if "control" in scopes:
        _check_control_listener(config, s)
    return MtlsSettings(ca_file, frozenset(pins), scopes)


def _scopes(s: Section) -> frozenset[str]:
    scopes = s.get_str_list("scopes", ["link"])
    bad = [x for x in scopes if x not in SCOPES]
    if bad or not scopes:
        raise s.error("scopes", f'expected some of "link", "control", got {scopes!r}')
    return frozenset(scopes)


def _check_link_listener(config: Config, s: Section) -> None:
    if config.listen is None:
        raise s.error("", "this node does not listen for links: nothing to require certificates "
                      'on (for the control API alone: scopes = ["control"])')  # fmt: skip
    if not config.listen.tls_cert:
        raise s.error(
            "",
            "client certificates need TLS on the link listener: set [listen] tls_cert and "
            "tls_key (or --tls-cert and --tls-key)",
        )


def _check_control_listener(config: Config, s: Section) -> None:
    if not config.control.enabled:
        raise s.error("scopes", "the control API is off ([control] enabled = false)")
    if not config.control.tls_cert:
        raise s.error(
            "scopes",
            '"control": client certificates need TLS on the control API: set [control] '
            "tls_cert and tls_key (or --ctl-tls-cert and --ctl-tls-key)",
        )


def subject_text(name: Any) -> str:
    """``CN=client-1,O=Example`` from the nested tuples of ``SSLSocket.getpeercert()``."""
    parts = [f"{_SHORT.get(k, k)}={v}" for rdn in name or () for k, v in rdn]
    return ",".join(parts)


def principal_from_cert(cert: Mapping[str, Any], sha256: str) -> Principal:
    """The principal of a verified peer certificate: its subject's CN (else the subject)."""
    subject = subject_text(cert.get("subject"))
    cns = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    return Principal(
        cns[-1] if cns else subject or f"sha256:{sha256[:16]}",
        "mtls",
        {
            "subject": subject,
            "issuer": subject_text(cert.get("issuer")),
            "serial": cert.get("serialNumber", ""),
            "not_after": cert.get("notAfter", ""),
            "sha256": sha256,
        },
    )
