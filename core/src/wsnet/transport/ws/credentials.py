"""HTTP Basic credentials of a dialling node: where the password comes from.

Sources, first found wins: the [[dial]] ``password`` option (only in a config
file you keep private), ``password_file`` (read at every dial, so a rotated
password is picked up), then $WSNET_PASSWORD.  Never argv: a password on the
command line is visible to every user of the machine in ps.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from .options import DialOptions

PASSWORD_ENV = "WSNET_PASSWORD"


def read_password_file(path: str) -> str:
    """The first line of ``path`` (a trailing newline is not part of the password)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path!r}: not UTF-8 text") from None


def password_of(options: DialOptions, env: Mapping[str, str]) -> str | None:
    """The password for ``options.user``; None when no source has one.  Raises
    ValueError naming an unreadable ``password_file``."""
    if options.password is not None:
        return options.password
    if options.password_file:
        return read_password_file(options.password_file)
    return env.get(PASSWORD_ENV)


def split_userinfo(url: str) -> tuple[str, str, str | None]:
    """(url without user:password@, user, password or None) of a ws(s):// URL."""
    parts = urlsplit(url)
    if not parts.username:
        return url, "", None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    password = unquote(parts.password) if parts.password is not None else None
    return clean, unquote(parts.username), password


def basic_authorization(user: str, password: str) -> str:
    """The Authorization header value; the password may contain ':' (split at the first)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
