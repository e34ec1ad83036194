"""Secrets never printed: the one redaction helper for URLs and texts that may hold them.

Every log line, event, error and control answer that shows a URL or credential goes
through here.  ``redact_url`` keeps what a person needs to tell links apart (scheme,
user name, host, port, path) and masks the password of ``user:password@`` and the
values of query parameters that carry secrets; ``redact_text`` does that to every URL
inside a free text (an exception's message) and masks secrets the caller knows of.

When a URL does not parse cleanly it is masked more, never less: a password with a
raw ``/`` or ``@`` is still hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"
# Query parameters whose values are credentials (compared case-insensitively).
SECRET_PARAMS = frozenset(
    {"password", "passwd", "pass", "pwd", "secret", "token", "access_token", "auth",
     "api_key", "apikey", "key", "sig", "signature"}
)  # fmt: skip
# Known secrets shorter than this are not searched for in free text (masking every "ab"
# would garble the message); the structural redaction of URLs still hides them.
MIN_KNOWN_SECRET = 4
# Where a URL starts inside a free text; the URL parser then decides what it holds.
# A URL runs to the next white space: quotes or a colon after it stay outside its
# userinfo, which is all that is changed.
_CLOSERS = "'\"),;>]"
# The scheme is bounded: with ``*`` a long run of letters before one "://" was scanned
# from each of its positions (quadratic; 100 KB of an upstream's bytes in an error froze
# the event loop for 20 s).  A longer "scheme" is matched from its last 32 characters,
# which masks the same userinfo.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://\S*")


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo and secret query values shown as ***.

    Any scheme (``ws``, ``http``, ``socks5``, ...); a proxy written without one
    (``user:pw@host:3128``) is read as an authority.  A URL without secrets comes back
    unchanged.
    """
    if "://" not in url:
        if "@" not in url:
            return url
        return _redact("//" + url)[2:]
    return _redact(url)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL in it redacted and each known secret (of at least
    MIN_KNOWN_SECRET characters, as given or percent-decoded) replaced by ***."""
    if "://" in text:
        text = _URL_START.sub(lambda m: _redact(m.group(0)), text)
    for secret in secrets:
        for form in {secret, unquote(secret)}:
            if len(form) >= MIN_KNOWN_SECRET:
                text = text.replace(form, MASK)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-like value (a control answer) with ``redact_text`` applied to every string
    in it; lists, tuples and dicts are copied, anything else is returned as it is."""
    if isinstance(value, str):
        return redact_text(value) if "://" in value else value
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries (password, secret query values), to mask in free texts
    where the URL itself no longer appears (e.g. a library's error about the request)."""
    if not url:
        return []
    try:
        parts = urlsplit(url if "://" in url else "//" + url)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    for piece in parts.query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and unquote_plus(name).lower() in SECRET_PARAMS:
            found.append(value)
    return found


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host: mask by hand
        return _redact_raw(url)
    if "@" not in parts.netloc and "@" in url.partition("//")[2]:
        # A raw "/" or "?" in the password ends the parser's authority early.
        return _redact_raw(url)
    netloc = _mask_userinfo(parts.netloc)
    query = _mask_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _mask_userinfo(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return netloc
    return f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"


def _mask_query(query: str) -> str:
    if not query:
        return query
    pieces = []
    for piece in query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and unquote_plus(name).lower() in SECRET_PARAMS:
            # Quotes and brackets after a URL in a message are not part of the value.
            kept = value.rstrip(_CLOSERS)
            piece = f"{name}={MASK}{value[len(kept) :]}"
        pieces.append(piece)
    return "&".join(pieces)


def _redact_raw(url: str) -> str:
    """What the parser could not split: everything from the "//" to the last "@" is
    taken for userinfo (more is masked, never less); the user name is kept up to its
    first ":"."""
    scheme, sep, rest = url.partition("//")
    userinfo, at, tail = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:{MASK}@{tail}"
    head, q, query = rest.partition("?")
    return f"{scheme}{sep}{head}{q}{_mask_query(query)}"
