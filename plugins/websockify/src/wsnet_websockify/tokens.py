"""Token sources: a token names a target (``host:port`` or ``host:port@node``).

A source is any object with ``lookup(token)`` returning the target text or None (or an
awaitable of that), built as ``Factory(source_text)``, as websockify's token plugins are.
They are found in the entry point group ``wsnet_websockify.token_sources`` (the built-ins
below are entries of it too), or as ``module:attribute``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import ipaddress
import json
import logging
from collections.abc import Awaitable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import quote

import aiohttp

from wsnet import NODE_NAME_RE

GROUP = "wsnet_websockify.token_sources"
log = logging.getLogger("wsnet.websockify")


class TokenSource(Protocol):
    def lookup(self, token: str) -> str | Awaitable[str | None] | None: ...


class TokenSourceError(ValueError):
    pass


def load_source(plugin: str, source: str) -> TokenSource:
    """The source ``plugin`` names, built with ``source``; TokenSourceError says why not."""
    factory = _find(plugin)
    try:
        return cast(TokenSource, factory(source))
    except (OSError, ValueError) as exc:
        raise TokenSourceError(f"token source {plugin!r}: {exc}") from None


def _find(plugin: str) -> Any:
    # websockify spells its own as websockify.token_plugins.TokenFile: the last part counts
    short = plugin.rpartition(".")[2] if plugin.startswith("websockify.") else plugin
    found = [ep for ep in entry_points(group=GROUP) if ep.name == short]
    if found:
        return found[0].load()
    if ":" in plugin:
        module, _, attr = plugin.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise TokenSourceError(f"token plugin {plugin!r} cannot be loaded: {exc}") from None
    names = ", ".join(sorted({ep.name for ep in entry_points(group=GROUP)}))
    raise TokenSourceError(f"unknown token plugin {plugin!r} (installed: {names}; or module:attr)")


async def lookup(source: TokenSource, token: str, timeout: float = 10.0) -> str | None:
    """Ask ``source``; a synchronous one runs in a thread (it may read files or sockets)."""
    if inspect.iscoroutinefunction(source.lookup):
        return await asyncio.wait_for(cast(Awaitable[str | None], source.lookup(token)), timeout)
    result = await asyncio.wait_for(asyncio.to_thread(source.lookup, token), timeout)
    if inspect.isawaitable(result):
        return await asyncio.wait_for(result, timeout)
    return result


class TokenFile:
    """websockify's TokenFile: a file, or a directory of files, of ``token: target`` lines.

    Read again when a file's size or modification time changed (or one was added or
    removed), so an edit applies to the next connection without a restart.
    """

    def __init__(self, source: str) -> None:
        self.path = Path(source)
        if not self.path.exists():
            raise ValueError(f"{source}: no such file or directory")
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._targets: dict[str, str] = {}

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file())
        return [self.path]

    def _stamps(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for p in self._files():
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def lookup(self, token: str) -> str | None:
        stamp = self._stamps()
        if stamp != self._stamp:
            self._targets = self._read(stamp)
            self._stamp = stamp
        return self._targets.get(token)

    @staticmethod
    def _read(stamp: tuple[tuple[str, int, int], ...]) -> dict[str, str]:
        targets: dict[str, str] = {}
        for name, _, _ in stamp:
            try:
                text = Path(name).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                log.warning("token file %s: cannot read: %s", name, exc.strerror)
                continue
            for n, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                token, sep, target = line.partition(": ")
                if not sep or not target.strip():
                    log.warning("token file %s line %d: expected 'token: host:port'", name, n)
                    continue
                targets[token.strip()] = target.strip()
        return targets


class JSONTokenApi:
    """websockify's JSONTokenApi: GET the URL (``%s`` replaced by the token); the JSON
    answer's ``host`` and ``port`` (and, beyond websockify, ``node``) name the target."""

    def __init__(self, source: str) -> None:
        if not source.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s):// URL with %s for the token, got {source!r}")
        self.source = source

    async def lookup(self, token: str) -> str | None:
        url = self.source % quote(token, safe="") if "%s" in self.source else self.source
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as resp,
        ):
            if resp.status != 200:
                return None
            try:
                data = json.loads(await resp.read())
            except ValueError:
                log.warning("token API: the answer for a token is not JSON")
                return None
        return _json_target(data)


def _json_target(data: Any) -> str | None:
    """``host:port[@node]`` from an answer, each field checked on its own: a text where
    the port belongs ("5901@othernode") must not name a node, nor a host a port."""
    if not isinstance(data, dict):
        return None
    host, port, node = data.get("host"), data.get("port"), data.get("node") or ""
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if (
        not isinstance(host, str) or not host or any(c in host for c in "@[]/ \t\n")
        or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
        or not isinstance(node, str) or (node and not NODE_NAME_RE.match(node))
        or (":" in host and not _is_ipv6(host))
    ):  # fmt: skip
        log.warning("token API: an answer with a bad host, port or node was ignored")
        return None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{target}@{node}" if node else target


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
