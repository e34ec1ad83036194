"""One TOML table and the checks of single values: every getter checks type and range,
and every error names the file and the key (or the flag) it came from.

Used by the core's parser (config.py), by the flags of `wsnet run` (startup.py) and by
plugins through ``config.section(NAME)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .redact import redact_url

_MISSING: Any = object()
MAX_SECONDS = 86400.0  # a day: longer timers and intervals are typos, not intentions


class Section:
    """One TOML table.  Getters check type and range; done() rejects unknown keys."""

    def __init__(self, data: Mapping[str, Any], source: str, path: str) -> None:
        self.data = data
        self.source = source
        self.path = path  # e.g. "[listen]" or "[[dial]] #2"
        self._seen: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.source, f"{self.path} {key}".strip(), message)

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], expected: str) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, f"required key missing (expected {expected})")
            return default
        value = self.data[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(key, f"expected {expected}, got {value!r}")
        return value

    def get_str(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, default, (str,), "a string")

    def get_bool(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, default, (bool,), "true or false")

    def get_int(
        self, key: str, default: Any = _MISSING, *, lo: int | None = None, hi: int | None = None
    ) -> Any:
        rng = f" in {lo}..{hi}" if lo is not None and hi is not None else ""
        value = self._get(key, default, (int,), f"an integer{rng}")
        if isinstance(value, int) and not isinstance(value, bool) and not _within(value, lo, hi):
            raise self.error(key, f"expected an integer{rng or f' >= {lo}'}, got {value}")
        return value

    def get_float(
        self, key: str, default: Any = _MISSING, *, lo: float = 0.0, hi: float = MAX_SECONDS
    ) -> Any:
        """A finite number in (lo, hi]: nan and inf are refused, they would turn a timer
        off (every comparison with nan is false) or make it wait forever."""
        value = self._get(key, default, (int, float), "a number")
        if key in self.data and not (math.isfinite(value) and lo < value <= hi):
            raise self.error(key, f"expected a number > {lo:g} and <= {hi:g}, got {value}")
        return float(value) if isinstance(value, int | float) else value

    def get_seconds(
        self, key: str, default: float, *, zero: bool = False, hi: float = MAX_SECONDS
    ) -> float:
        """A duration in seconds: finite, > 0 (or >= 0 with ``zero``), at most ``hi``."""
        value = self._get(key, default, (int, float), "a number of seconds")
        if not (math.isfinite(value) and (value >= 0 if zero else value > 0) and value <= hi):
            least = ">= 0" if zero else "> 0"
            raise self.error(key, f"expected seconds {least} and <= {hi:g}, got {value}")
        return float(value)

    def get_str_list(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default, (list,), "a list of strings")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return value

    def table(self, key: str) -> Section:
        value = self._get(key, {}, (dict,), "a table")
        return Section(value, self.source, f"{self.path}.{key}" if self.path else f"[{key}]")

    def tables(self, key: str) -> list[Section]:
        """An array of tables ([[key]] in TOML)."""
        # At the top level a key is a table's name: say [dial], as the file spells it.
        label = key if self.path else f"[{key}]"
        if isinstance(self.data.get(key), dict):
            raise self.error(label, f"expected an array of tables ([[{key}]]), got a table")
        try:
            value = self._get(key, [], (list,), f"an array of tables ([[{key}]])")
        except ConfigError as exc:
            raise self.error(label, exc.detail) from None
        out = []
        for i, item in enumerate(value, 1):
            if not isinstance(item, dict):
                raise self.error(key, f"entry #{i}: expected a table, got {item!r}")
            out.append(Section(item, self.source, f"[[{key}]] #{i}"))
        return out

    def done(self) -> None:
        """Reject keys nobody asked for: they are typos or options of another version."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise self.error(unknown[0], f"unknown key (known keys here: {known})")


def _within(value: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def host_port(section: Section, key: str, value: str) -> tuple[str, int]:
    """Parse HOST:PORT (IPv6 as [addr]:port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise section.error(key, f"expected HOST:PORT with a port 1..65535, got {value!r}")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise section.error(key, f"write an IPv6 address in brackets, [ADDRESS]:PORT: {value!r}")
    if any(c.isspace() or not c.isprintable() for c in host):
        raise section.error(key, f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def check_port(section: Section, key: str, value: str, *, lo: int = 1) -> int:
    """A port number given as text (a flag); ``lo=0`` lets 0 mean "any free port"."""
    text = value.strip()
    if not (text.isascii() and text.isdigit() and lo <= int(text) <= 65535):
        raise section.error(key, f"expected a port {lo}..65535, got {value!r}")
    return int(text)


# What a URL path may hold (RFC 3986 pchar and "/"); aiohttp reads {} as route variables.
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,1023}$")


def check_listen_path(section: Section, key: str, path: str) -> str:
    if not _PATH_RE.match(path):
        raise section.error(
            key,
            "expected a URL path starting with '/' (letters, digits and -._~!$&'()*+,;=:@%/,"
            f" at most 1024), got {path!r}",
        )
    return path


def check_dial_url(section: Section, key: str, url: str) -> None:
    """A ws:// or wss:// URL with a host and, if given, a port 1..65535."""
    shown = redact_url(url)  # the whole URL, spaces and all: never its password
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise section.error(key, f"{shown!r}: {exc}") from None
    if not parts.hostname:
        raise section.error(key, f"expected ws://HOST[:PORT]/PATH, got {shown!r} (no host)")
    if port == 0:
        raise section.error(key, f"{shown!r}: port 0 cannot be dialled")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise section.error(key, f"{shown!r}: spaces or control characters in the URL")


def check_host(s: Section, key: str, host: str) -> str:
    """An address to bind: an IP address or a host name (resolved when it binds)."""
    if not host or len(host) > 253 or any(c.isspace() or not c.isprintable() for c in host):
        raise s.error(key, f"expected an IP address or a host name, got {host!r}")
    return host
