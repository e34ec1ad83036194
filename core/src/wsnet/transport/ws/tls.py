"""The TLS contexts of a wss:// dial, from its options (the files are wsnet.tls's checks)."""

from __future__ import annotations

import ssl

from ...tls import TlsFileError, client_context
from .options import DialOptions

# Which option a TlsFileError's role (wsnet.tls) is about.
TLS_KEYS = {"ca": "ca_file", "cert": "cert_file", "key": "key_file"}


def tls_context(options: DialOptions) -> ssl.SSLContext:
    """The client context of ``options``: ``ca_file`` to verify against (else the system
    CAs), ``insecure`` to not verify, ``cert_file``/``key_file`` to present a client
    certificate (mTLS).  Raises TlsFileError (``role``: which file; see TLS_KEYS)."""
    return client_context(
        ca_file=options.ca_file,
        insecure=options.insecure,
        cert_file=options.cert_file,
        key_file=options.key_file,
    )


def client_ssl(options: DialOptions) -> ssl.SSLContext:
    """tls_context at dial time.  The files were checked at start-up; a file that changed
    since (or one given to `ctl dial`) raises ValueError naming the option and path."""
    try:
        return tls_context(options)
    except TlsFileError as exc:
        raise ValueError(f"{TLS_KEYS[exc.role]} {exc}") from None
