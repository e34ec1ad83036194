"""`wsnet ctl`: a JSON-RPC 2.0 client for the control API, with tables for people."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .redact import redact_url

DEFAULT_URL = "http://127.0.0.1:7867/rpc"
PASSWORD_ENV = "WSNET_CTLPASSWORD"
USER_ENV = "WSNET_CTLUSER"
URL_ENV = "WSNET_CTLURL"
_ids = itertools.count(1)


class CtlError(Exception):
    """One line for the person at the terminal; `wsnet ctl` exits 1 with it."""


@dataclass(frozen=True, slots=True)
class CtlOptions:
    """How to reach a protected control API: Basic credentials and https verification."""

    user: str = ""
    password: str = ""
    ca_file: str = ""
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        from .tls import TlsFileError, client_context

        try:
            return client_context(ca_file=self.ca_file, insecure=self.insecure)
        except TlsFileError as exc:
            raise CtlError(f"--ca-file {exc}") from None

    def headers(self) -> dict[str, str]:
        if not self.user:
            return {}
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}


def normalize_url(text: str) -> str:
    """The control API URL a person meant: ``7868`` is ``http://127.0.0.1:7868/rpc``,
    ``HOST:PORT`` is ``http://HOST:PORT/rpc``; an http(s) URL is kept as given.

    Raises CtlError (one line) for anything else, e.g. a ws:// URL or a port out of range."""
    text = text.strip()
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    scheme, sep, rest = text.partition("://")
    if not sep:
        host, colon, digits = text.rpartition(":")
        if not (colon and host and digits.isdigit()):
            raise CtlError(f"--ctlurl {redact_url(text)!r}: expected PORT, HOST:PORT or an "
                           "http(s):// URL")  # fmt: skip
        text, scheme, rest = f"http://{text}/rpc", "http", f"{text}/rpc"
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise CtlError(f"--ctlurl {redact_url(text)!r}: expected PORT, HOST:PORT or an "
                       "http(s):// URL")  # fmt: skip
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed [
        raise CtlError(f"--ctlurl {redact_url(text)!r}: {exc}") from None
    if "@" in parts.netloc:  # urllib would look the whole user:password@host up in DNS
        raise CtlError(f"--ctlurl {redact_url(text)!r}: no user or password in the URL; give "
                       f"--ctluser NAME and the password in ${PASSWORD_ENV}, "
                       "--ctlpassword-file or at the prompt")  # fmt: skip
    try:
        number = parts.port
    except ValueError:
        number = -1
    if number is not None and not 0 < number < 65536:
        raise CtlError(f"--ctlurl {redact_url(text)!r}: the port must be 1..65535")
    return text


@dataclass(frozen=True, slots=True)
class CtlClient:
    """One control API as a command reaches it: its URL (see normalize_url), credentials
    and https verification, and how many seconds to wait for each reply.

    Plugin commands get one from ``wsnet.ctl_command``; ``call`` raises CtlError."""

    url: str = DEFAULT_URL
    options: CtlOptions = CtlOptions()
    timeout: float = 60.0

    def call(self, method: str, params: Any = None) -> Any:
        """The result of ``method`` (params: a JSON array, object or None)."""
        return call(self.url, method, params, self.timeout, self.options)

    def call_set(self, method: str, params: Mapping[str, Any]) -> Any:
        """``method`` with only the ``params`` that are set: a value None or "" (a command's
        option left unset) is left out, so the method's own default applies."""
        return self.call(method, {k: v for k, v in params.items() if v not in (None, "")})

    def call_words(self, method: str, words: list[str]) -> Any:
        """``method`` with command-line words, VALUE or NAME=VALUE (see build_params)."""
        return self.call(method, build_params(self.url, method, words, self.timeout, self.options))


def call(
    url: str,
    method: str,
    params: Any = None,
    timeout: float = 30.0,
    options: CtlOptions | None = None,
) -> Any:
    """Call ``method`` of the control API at ``url`` (see normalize_url) and return its
    result; waits at most ``timeout`` seconds.  Raises CtlError with one line for the
    person at the terminal: unreachable, refused (401, with a hint), or the method's error."""
    opts = options or CtlOptions()
    url = normalize_url(url)
    shown = redact_url(url)  # what error messages show of the URL
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method}
    if params is not None:
        body["params"] = params
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **opts.headers()},
    )
    context = opts.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            reply = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise CtlError(_http_error(shown, exc, opts)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        broke_off = isinstance(reason, ConnectionResetError | http.client.HTTPException)
        if broke_off and url.startswith("http:") and _speaks_tls(url, timeout):
            https = "https:" + url.removeprefix("http:")
            where = urllib.parse.urlsplit(url).netloc
            raise CtlError(f"the control API at {where} speaks TLS: use {redact_url(https)} "
                           "(with --ca-file CA, or --insecure)") from None  # fmt: skip
        hint = (
            " (give its CA with --ca-file)"
            if isinstance(reason, ssl.SSLCertVerificationError)
            else f" (it does not speak TLS: use {redact_url('http:' + url[6:])})"
            if isinstance(reason, ssl.SSLError) and reason.reason == "WRONG_VERSION_NUMBER"
            else ""
        )  # fmt: skip
        raise CtlError(f"cannot reach the control API at {shown}: {reason}{hint}") from None
    except ValueError:
        raise CtlError(f"control API at {shown} sent a reply that is not JSON") from None
    if "error" in reply:
        raise CtlError(f"{method}: {reply['error'].get('message', reply['error'])}")
    return reply.get("result")


def _speaks_tls(url: str, timeout: float) -> bool:
    """Whether the server of an http:// ``url`` that broke off the request completes a TLS
    handshake instead (a control API with tls_cert, reached without https://).  Nothing is
    verified or sent: the handshake alone answers, within ``timeout`` seconds (at most 5)."""
    parts = urllib.parse.urlsplit(url)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(
                (parts.hostname or "", parts.port or 80), min(timeout, 5.0)
            ) as raw,
            probe.wrap_socket(raw),
        ):
            return True
    except (OSError, ValueError):
        return False


def _http_error(url: str, exc: urllib.error.HTTPError, opts: CtlOptions) -> str:
    text = f"control API at {url} answered HTTP {exc.code} {exc.reason}"
    if exc.code == 401:
        hint = (
            f"wrong user or password for {opts.user!r}"
            if opts.user
            else f"it needs credentials: --ctluser NAME and the password in ${PASSWORD_ENV}"
        )
        text += f" ({hint})"
    return text


def build_params(
    url: str, method: str, args: list[str], timeout: float, options: CtlOptions | None = None
) -> Any:
    """Positional words become a JSON array; NAME=VALUE words (NAME an identifier) an object.

    When both are mixed, the method's parameter order comes from `help`.
    """
    named = dict(a.split("=", 1) for a in args if _is_named(a))
    positional = [a for a in args if not _is_named(a)]
    if not named:
        return positional or None
    if not positional:
        return named
    free = [n for n in _param_names(url, method, timeout, options) if n not in named]
    if len(positional) > len(free):
        raise CtlError(f"{method}: too many arguments (parameters: {', '.join(free)})")
    named.update(zip(free, positional, strict=False))
    return named


def _is_named(word: str) -> bool:
    """NAME=VALUE with NAME a parameter name: a URL with ``?a=b`` is a value."""
    name, sep, _ = word.partition("=")
    return bool(sep) and name.isidentifier()


def _param_names(
    url: str, method: str, timeout: float, options: CtlOptions | None = None
) -> list[str]:
    for entry in call(url, "help", timeout=timeout, options=options):
        if entry["method"] == method:
            words = [p.strip("[]").split("=", 1)[0] for p in entry["params"].split()]
            return [w for w in words if not w.startswith("**")]  # **OPTION takes NAME=VALUE
    # Not a method of this node: its own answer says why (e.g. which plugin has it).
    call(url, method, None, timeout, options)
    raise CtlError(f"unknown method {method!r} (see: wsnet ctl help)")


def render(result: Any, columns: tuple[str, ...] = ()) -> str:
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        return _table(result, columns)
    if isinstance(result, list):
        return "\n".join(str(r) for r in result) if result else "(none)"
    if isinstance(result, dict):
        lines = []
        for key, value in result.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                lines.append(f"{key}:")
                lines.extend("  " + line for line in _table(value).splitlines())
            else:
                lines.append(f"{key}: {_cell(value)}")
        return "\n".join(lines)
    return "" if result is None else str(result)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...] = ()) -> str:
    cols = list(columns) or list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    head = "  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([head.rstrip(), *(b.rstrip() for b in body)])
