"""Every check of the ws/wss transport's dial options, for the three places they come from:
a ``[[dial]]`` table (start-up and SIGHUP), the `wsnet run` flags, and a run-time dial
(`ctl dial`, `addport client`).  Errors are ConfigError naming the source and the option as
that source spells it (``[[dial]] #2 cert_file``, ``--cert``, ``cert_file``): ``Where``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...control import convert_param
from ...errors import ConfigError
from ...section import MAX_SECONDS, Section
from ...tls import TlsFileError
from .credentials import password_of, read_password_file
from .options import DialOptions, fields, run_time_fields, types
from .proxy import parse_proxy_url
from .tls import TLS_KEYS, tls_context

RUN_TIME = "run time"  # the source named by a run-time dial's errors


@dataclass(frozen=True, slots=True)
class Where:
    """Where options came from: ``source`` (a file, "command line", "run time"), the
    entry within it (``[[dial]] #2``) and how an option is named there."""

    source: str
    path: str = ""
    names: Callable[[str], str] = str

    def name(self, key: str) -> str:
        return self.names(key)

    def error(self, key: str, detail: str) -> ConfigError:
        return ConfigError(self.source, f"{self.path} {self.name(key)}".strip(), detail)


def from_section(section: Section) -> DialOptions:
    """The options of one ``[[dial]]`` table, each checked for its type (ConfigError)."""
    hints = types()
    values: dict[str, Any] = {}
    for f in fields():
        if f.name not in section.data:
            continue
        kind = hints[f.name]
        if f.name == "headers":
            headers = section.table(f.name)
            values[f.name] = {name: headers.get_str(name) for name in headers.data}
        elif kind is bool:
            values[f.name] = section.get_bool(f.name)
        elif kind is float:
            values[f.name] = section.get_float(f.name)
        else:
            values[f.name] = section.get_str(f.name)
    return DialOptions(**values)


def check(options: DialOptions, where: Where, *, password_needed: bool = True) -> None:
    """The checks of values whose types are right: files readable and usable, a finite
    timeout, a password for ``user`` (unless ``password_needed`` is False: the caller
    asks for it), a proxy URL.  Raises ConfigError (``where.error``)."""
    _check_tls(options, where)
    wait = options.handshake_timeout
    if not (math.isfinite(wait) and 0 < wait <= MAX_SECONDS):
        raise where.error("handshake_timeout",
                          f"expected a number > 0 and <= {MAX_SECONDS:g}, got {wait}")  # fmt: skip
    if options.password_file:
        try:
            read_password_file(options.password_file)
        except ValueError as exc:
            raise where.error("password_file", str(exc)) from None
    if password_needed and options.user and password_of(options, os.environ) is None:
        raise where.error("user", f"no password for {options.user!r}: set "
                          f"{where.name('password_file')}, or WSNET_PASSWORD")  # fmt: skip
    if options.proxy and options.proxy != "none":
        try:
            parse_proxy_url(options.proxy)
        except ValueError as exc:
            raise where.error("proxy", str(exc)) from None


def _check_tls(options: DialOptions, where: Where) -> None:
    if options.key_file and not options.cert_file:
        raise where.error("key_file", f"needs {where.name('cert_file')} (the client certificate)")
    try:
        tls_context(options)
    except TlsFileError as exc:
        raise where.error(TLS_KEYS[exc.role], str(exc)) from None


def check_section(section: Section) -> DialOptions:
    """Every check of one ``[[dial]]`` table's options (at start-up and on SIGHUP)."""
    options = from_section(section)
    check(options, Where(section.source, section.path))
    return options


def check_run_time_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every check of a run-time dial's options (`ctl dial`, `addport client`); returns
    them converted to their types (``insecure=true`` is True).  Raises ConfigError naming
    the option (also an unknown one), or RpcError (-32602) for a value of the wrong type.
    ``password`` is refused: given at run time it would travel on a command line."""
    if "password" in given:
        raise ConfigError(RUN_TIME, "password", "not accepted here (it would be on a "
                          "command line): use password_file, or $WSNET_PASSWORD")  # fmt: skip
    known = [f.name for f in run_time_fields()]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(RUN_TIME, unknown[0], f"unknown option (known: {', '.join(known)})")
    hints = types()
    converted = {k: convert_param(k, v, hints[k]) for k, v in given.items()}
    check(DialOptions(**converted), Where(RUN_TIME))
    return converted
