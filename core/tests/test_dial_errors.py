"""How a failed dial is described in logs, `wsnet ctl dials` and DialFailed events."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from wsnet.dialer import _describe


def connect_error(tls: object) -> aiohttp.ClientConnectorError:
    key = ConnectionKey("127.0.0.1", 7860, True, tls, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connect call failed"))


@pytest.mark.parametrize("tls", [True, ssl.create_default_context()], ids=["default", "context"])
def test_the_tls_setting_is_not_printed(tls: object) -> None:
    """aiohttp says "ssl:default" or "ssl:<ssl.SSLContext object at 0x...>"."""
    text = _describe(connect_error(tls))
    assert text.startswith("Cannot connect to host 127.0.0.1:7860 [")
    assert "ssl:" not in text and "SSLContext" not in text


def test_http_errors_carry_their_status() -> None:
    class Refused(Exception):
        status = 401
        message = "Unauthorized"

    assert _describe(Refused("x")) == "HTTP 401: Unauthorized"
