"""wsnet.redact: URL passwords and secret query values masked, whatever the URL looks like."""

from __future__ import annotations

import time
from urllib.parse import quote

from hypothesis import assume, given
from hypothesis import strategies as st

from wsnet import redact_text, redact_url
from wsnet.redact import redact_value, url_secrets


def test_forms() -> None:
    assert redact_url("socks5://u:p@ss@h:1/x?token=t&a=b") == "socks5://u:***@h:1/x?token=***&a=b"
    assert redact_url("u:pw@proxy:3128") == "u:***@proxy:3128"
    assert redact_url("ws://u:p/w@[::1]:80/p") == "ws://u:***@[::1]:80/p"  # raw "/" in it
    assert redact_url("ws://u:p@[::1") == "ws://u:***@[::1"  # unparsable: masked by hand
    assert redact_url("http://user@h:1") == "http://user@h:1"  # no password: unchanged
    assert redact_url("ws://h/p?x=1&Password=z") == "ws://h/p?x=1&Password=***"
    assert redact_url("ws://h/p?x=1") == "ws://h/p?x=1"


def test_texts_and_values() -> None:
    text = "proxy 'http://a:secret1@h:1': refused; url='ws://h/?token=abc'"
    assert redact_text(text) == "proxy 'http://a:***@h:1': refused; url='ws://h/?token=***'"
    assert (
        redact_text("echoed: hunter22 and hunter%32%32", ["hunter%32%32"]) == "echoed: *** and ***"
    )
    assert redact_text("ab stays", ["ab"]) == "ab stays"  # too short to search for
    value = {"rows": [{"url": "ws://u:pw@h/"}, ("wss://x:y@h/", 3)], "n": None}
    assert redact_value(value) == {
        "rows": [{"url": "ws://u:***@h/"}, ["wss://x:***@h/", 3]],
        "n": None,
    }
    assert url_secrets("ws://a:b%40c@h/?token=xyz") == ["b%40c", "xyz"]


passwords = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=4)
users = st.text(st.characters(categories=("Ll", "Nd")), min_size=1, max_size=8)


def test_long_texts_take_linear_time() -> None:
    """An error quoting 100 KB of a peer's bytes (a bad status line) next to a URL: this
    took minutes with an unbounded scheme pattern, in the event loop."""
    started = time.monotonic()
    text = "Bad status line b'" + "y" * 100_000 + "', url='http://u:pw@h:1/a'"
    assert redact_text(text).endswith("url='http://u:***@h:1/a'")
    long_scheme = "s" * 5000 + "://u:pw@h/"
    assert redact_text(long_scheme) == "s" * 5000 + "://u:***@h/"
    assert time.monotonic() - started < 2.0


@given(user=users, password=passwords, scheme=st.sampled_from(["ws", "wss", "http", "socks5"]),
       quoted=st.booleans())  # fmt: skip
def test_a_password_never_survives(user: str, password: str, scheme: str, quoted: bool) -> None:
    shown = quote(password, safe="") if quoted else password
    if not quoted and any(c.isspace() for c in password):
        return  # not a URL: white space ends it in a text, and config checks refuse it
    url = f"{scheme}://{user}:{shown}@host.example:8080/path?a=1"
    assume(shown not in f"error for '{scheme}://{user}:***@host.example:8080/path?a=1': x")
    out = redact_url(url)
    assert out == f"{scheme}://{user}:***@host.example:8080/path?a=1" or (
        not quoted and out.startswith(f"{scheme}://{user}:***@")
    )
    assert redact_text(f"error for '{url}': x").count("***") >= 1
    assert shown not in redact_text(f"error for '{url}': x")
