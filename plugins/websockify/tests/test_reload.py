"""SIGHUP applies ``[[websockify.bridge]]`` changes: a bridge added starts, one removed
stops, one changed restarts with its new settings, one unchanged keeps its sessions."""

from __future__ import annotations

import asyncio
import signal
import socket
import tomllib
from typing import Any

import aiohttp
from wsfy_client import close_of, roundtrip
from wsfy_support import BridgeNode, target

from wsnet.testing import free_port, toml_dumps, wait_until


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sighup_adds_removes_and_changes_bridges(bridge_node: BridgeNode, echo_port: int) -> None:
    node, port = bridge_node(name="a", target=f"127.0.0.1:{echo_port}")
    keep_port, new_port = free_port(), free_port()
    cfg: dict[str, Any] = tomllib.loads(node.config_path.read_text())
    bridges = cfg["websockify"]["bridge"]
    bridges.append({"name": "keep", "listen": f"127.0.0.1:{keep_port}",
                    "target": f"127.0.0.1:{echo_port}"})  # fmt: skip
    node.config_path.write_text(toml_dumps(cfg))
    node.send_signal(signal.SIGHUP)
    wait_until(lambda: len(node.ctl("websockify")) == 2, what="bridge keep added")
    url = f"ws://127.0.0.1:{keep_port}/websockify"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as held:
            with target("greet") as closing:  # bridge1 now points at a target that closes
                bridges[0]["target"] = f"127.0.0.1:{closing}"
                bridges.append({"name": "new", "listen": f"127.0.0.1:{new_port}",
                                "target": f"127.0.0.1:{echo_port}"})  # fmt: skip
                del bridges[1]  # keep goes
                node.config_path.write_text(toml_dumps(cfg))
                node.send_signal(signal.SIGHUP)
                await asyncio.to_thread(wait_until, lambda: refused(keep_port), what="keep gone")
                msg = await asyncio.wait_for(held.receive(), 10)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
                code, reason, _ = await close_of(f"ws://127.0.0.1:{port}/websockify")
                assert (code, reason) == (1000, "Target closed"), (code, reason)
            r = await roundtrip(f"ws://127.0.0.1:{new_port}/websockify", 1000)
            assert r.received == r.sent

    asyncio.run(scenario())
    rows = {r["name"]: r for r in node.ctl("websockify")}
    assert set(rows) == {"bridge1", "new"}, rows
    assert "websockify bridge keep removed" in node.log()
