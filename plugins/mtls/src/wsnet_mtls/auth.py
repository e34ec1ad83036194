"""The authenticator: the peer certificate's subject becomes the principal of the link or
the control request (``[mtls] scopes``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wsnet import Authenticator, AuthRefused, Principal, fingerprint

from .settings import MtlsSettings, principal_from_cert, subject_text

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("wsnet.mtls")


class MtlsAuthenticator(Authenticator):
    name = "mtls"

    def __init__(self, settings: MtlsSettings) -> None:
        self.settings = settings
        self.scopes = settings.scopes  # [mtls] scopes: links, the control API, or both

    async def authenticate(self, request: web.Request) -> Principal | None:
        transport = request.transport
        tls = transport.get_extra_info("ssl_object") if transport is not None else None
        if tls is None:
            return None  # not a TLS connection: another authenticator may know it
        der = tls.getpeercert(binary_form=True)
        if not der:
            # CERT_REQUIRED makes the handshake fail first; kept as a second line of defence.
            raise AuthRefused("mtls: a client certificate is required and none was sent", 403)
        sha256 = fingerprint(der)
        cert = tls.getpeercert() or {}
        if self.settings.pinned and sha256 not in self.settings.pinned:
            subject = subject_text(cert.get("subject"))
            log.warning(
                "mtls: refused %s from %s: its certificate (sha256 %s) is not pinned",
                subject or "?",
                request.remote or "?",
                sha256,
            )
            # The reason is the 403's body: the client shows it (it names nothing secret).
            raise AuthRefused(
                f"mtls: the client certificate {subject} (sha256 {sha256}) is signed by a "
                "trusted CA but is not pinned ([mtls] pinned)",
                403,
            )
        return principal_from_cert(cert, sha256)
