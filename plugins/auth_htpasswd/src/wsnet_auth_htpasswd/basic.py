"""HTTP Basic credentials (RFC 7617) from an ``Authorization`` header."""

from __future__ import annotations

import base64


def parse_basic(header: str) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header; None if not one."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII token (a 500)
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
