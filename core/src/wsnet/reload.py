"""SIGHUP: read the configuration again and apply what can change while the node runs.

The new file goes through every check of start-up first (``wsnet.startup.reconfigure``);
a bad one is logged and changes nothing.  Then, one log line per change:

- applied now: ``[[dial]]`` entries (added, removed, changed: re-dialled), ``[node]
  shutdown_grace``, and whatever plugins apply in their ``wsnet_reload`` hook (``[authz]``
  grants, htpasswd files, tcp tunnels, ...);
- kept until a restart, with a warning: the node name and plugins, ``[listen]``,
  ``[control]`` addresses and files, ``[keepalive]``, ``[reconnect]``, ``[limits]``, and
  the sections of plugins without ``wsnet_reload``.

Links that no change touches stay up.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .config import CORE_SECTIONS, Config, DialConfig
from .errors import WsnetError
from .protocol import CloseCode
from .redact import redact_url

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("wsnet.reload")
# Parsed parts of the core's config that only a restart changes, with their section.
RESTART_ONLY = (
    ("listen", "[listen]"),
    ("control", "[control]"),
    ("keepalive", "[keepalive]"),
    ("reconnect", "[reconnect]"),
    ("limits", "[limits]"),
)


async def reload_config(runtime: Runtime, reconfigure: Callable[[], Config]) -> None:
    node = runtime.node
    log.info("SIGHUP: reading the configuration again (%s)", node.config.source)
    try:
        new = reconfigure()
    except WsnetError as exc:
        log.error("SIGHUP: configuration refused, nothing changed: %s", exc)
        return
    except Exception:  # a plugin's wsnet_configure that broke: still keep running
        log.exception("SIGHUP: checking the configuration failed, nothing changed")
        return
    old = node.config
    for line in restart_needed(old, new):
        log.warning("SIGHUP: %s: needs a restart, keeping the running value", line)
    await _apply_dials(runtime, old, new)
    if new.shutdown_grace != old.shutdown_grace:
        log.info("SIGHUP: [node] shutdown_grace %g -> %g", old.shutdown_grace, new.shutdown_grace)
        old.shutdown_grace = new.shutdown_grace
    reloaders = _reloading_plugins(runtime)
    for who, result in node.plugins.calls.reload(node, new):
        if inspect.isawaitable(result):
            try:
                await result
            except Exception:
                log.exception("SIGHUP: plugin %r failed to apply its changes", who)
    for name in _changed_sections(old, new):
        if name in reloaders:
            continue
        log.warning("SIGHUP: [%s] changed: plugin %r does not reload, needs a restart", name, name)
    old.raw = _merged_raw(old, new, reloaders)
    log.info("SIGHUP: done")


def restart_needed(old: Config, new: Config) -> Iterator[str]:
    """What differs between ``old`` and ``new`` that the node cannot change while it runs."""
    if new.name != old.name:
        yield f"[node] name {old.name!r} -> {new.name!r}"
    if new.plugins != old.plugins:
        yield f"[node] plugins {old.plugins} -> {new.plugins}"
    for attr, section in RESTART_ONLY:
        a, b = getattr(old, attr), getattr(new, attr)
        if a == b:
            continue
        if a is None or b is None:
            yield f"{section} {'enabled' if b is not None else 'disabled'}"
            continue
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if x != y:
                yield f"{section} {f.name} {x!r} -> {y!r}"


async def _apply_dials(runtime: Runtime, old: Config, new: Config) -> None:
    """Dial entries by URL: removed ones stop (their link closes), new ones start."""
    before = {d.url: d for d in old.dial}
    after = {d.url: d for d in new.dial}
    for url, dial in before.items():
        if after.get(url) == dial:
            continue
        what = "changed, dialling again" if url in after else "removed"
        log.info("SIGHUP: [[dial]] %s %s", _shown(dial), what)
        await _stop_dialling(runtime, url, f"dial entry {what.split(',')[0]} (SIGHUP)")
    for url, dial in after.items():
        if before.get(url) != dial:
            if url not in before:
                log.info("SIGHUP: [[dial]] %s added", _shown(dial))
            runtime.add_dialer(dial)
    old.dial = list(new.dial)


async def _stop_dialling(runtime: Runtime, url: str, reason: str) -> None:
    for link in list(runtime.node.links.values()):
        # A dialled link's remote is its URL as shown (password masked).
        if link.direction == "out" and link.remote == redact_url(url):
            await link.close(CloseCode.NORMAL, reason)
    await runtime.remove_dialer(url)


def _shown(dial: DialConfig) -> str:
    return redact_url(dial.url)  # never a password in a log line


def _reloading_plugins(runtime: Runtime) -> set[str]:
    """Section names of the loaded plugins that implement wsnet_reload."""
    return runtime.node.plugins.calls.implementers("wsnet_reload")


def _changed_sections(old: Config, new: Config) -> list[str]:
    names = (set(old.raw) | set(new.raw)) - set(CORE_SECTIONS)
    return sorted(n for n in names if old.raw.get(n) != new.raw.get(n))


def _merged_raw(old: Config, new: Config, applied: set[str]) -> dict[str, Any]:
    """The running configuration's raw tables: the new ones where they were applied."""
    raw = {k: v for k, v in old.raw.items() if k not in applied and k != "dial"}
    raw.update({k: v for k, v in new.raw.items() if k in applied or k == "dial"})
    return raw
