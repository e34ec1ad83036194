"""Every bridge of a node, as one component: started and stopped with the node, and
changed on SIGHUP (``wsnet_reload``) without touching the bridges that did not change.

A bridge added in the config starts; one removed stops (its sessions close with 1001);
one whose settings changed stops and starts again with the new ones (its sessions close
too: a session belongs to the settings it was admitted under).  A bridge that cannot
start (its port taken, say) is logged and left out; the others go on.
"""

from __future__ import annotations

import logging
from typing import Any

from wsnet import Component, NodeAPI

from .server import BridgeServer
from .spec import BridgeSpec

log = logging.getLogger("wsnet.websockify")


class Bridges(Component):
    def __init__(self, node: NodeAPI, specs: tuple[BridgeSpec, ...]) -> None:
        self.node = node
        self.servers: dict[str, BridgeServer] = {s.name: BridgeServer(node, s) for s in specs}

    async def start(self) -> None:
        for server in self.servers.values():
            await server.start()  # at start-up a bridge that cannot bind stops the node

    async def aclose(self) -> None:
        for server in list(self.servers.values()):
            await server.aclose()

    def info(self) -> list[dict[str, Any]]:
        return [server.info() for server in self.servers.values()]

    async def apply(self, specs: tuple[BridgeSpec, ...]) -> None:
        """Make the running bridges those of ``specs`` (SIGHUP)."""
        wanted = {s.name: s for s in specs}
        for name, server in list(self.servers.items()):
            if wanted.get(name) != server.spec:
                del self.servers[name]
                await server.aclose()
                if name not in wanted:
                    log.info("SIGHUP: websockify bridge %s removed", name)
        for name, spec in wanted.items():
            if name in self.servers:
                continue
            server = BridgeServer(self.node, spec)
            try:
                await server.start()
            except Exception as exc:  # a port taken, a wrapped program missing: this one only
                log.error("SIGHUP: websockify bridge %s cannot start: %s", name, exc)
                await server.aclose()
                continue
            self.servers[name] = server
            log.info("SIGHUP: websockify bridge %s (re)started on %s", name, server.address)
