"""SIGHUP for wsnet-tcp: the tunnels of ``[tcp]`` added, removed or replaced, the timeouts
and ``targets`` swapped.  Tunnels added at run time (``addtunnel``) are not the file's and
stay; connections of a removed or replaced tunnel run on until they end."""

from __future__ import annotations

import logging

from wsnet import Allowlist, WsnetError

from .manager import Manager, Settings
from .spec import TunnelSpec

log = logging.getLogger("wsnet.tcp")


async def apply(mgr: Manager, old: Settings, new: Settings) -> None:
    for key in ("pending_timeout", "connect_timeout", "targets"):
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            log.info("SIGHUP: [tcp] %s %s -> %s", key, _text(before), _text(after))
    mgr.settings = new  # read where used, so the next connection sees the new values
    before = {t.key: t for t in old.tunnels}
    after = {t.key: t for t in new.tunnels}
    for key, spec in before.items():
        if after.get(key) != spec:
            await mgr.remove(spec.name, spec.role)
            if key not in after:
                log.info("SIGHUP: tcp tunnel %s (%s) removed", spec.name, spec.role)
    for key, spec in after.items():
        if before.get(key) != spec:
            _add(mgr, spec, "changed" if key in before else "added")


def _add(mgr: Manager, spec: TunnelSpec, what: str) -> None:
    try:
        mgr.add(spec)
    except WsnetError as exc:  # e.g. an `addtunnel` one has the name or the address
        log.error("SIGHUP: tcp tunnel %s (%s) not %s: %s", spec.name, spec.role, what, exc)
        return
    where = f"{spec.address}" + (f" for {spec.peer}" if spec.peer else "")
    log.info("SIGHUP: tcp tunnel %s (%s %s) %s", spec.name, spec.role, where, what)


def _text(value: object) -> str:
    return str(value) if isinstance(value, Allowlist) else f"{value:g}"
