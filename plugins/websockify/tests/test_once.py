"""``run_once`` (websockify's --run-once) serves one session: the port closes when it is
admitted and a second upgrade on a connection already open gets 503; a wrapped program
that dies at once is respawned with a growing delay, not every second for ever."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from wsfy_client import status_of
from wsfy_support import BridgeNode

from wsnet.testing import wait_until


def test_run_once_serves_one_session_only(bridge_node: BridgeNode, echo_port: int) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", run_once=True)
    url = f"ws://127.0.0.1:{port}/websockify"

    async def scenario() -> tuple[int, bool]:
        async with aiohttp.ClientSession() as http:
            first = await http.ws_connect(url)
            await first.send_bytes(b"one")
            assert (await asyncio.wait_for(first.receive_bytes(), 10)) == b"one"
            try:  # a second browser: refused while the first runs
                second = (await status_of(url))[0]
            except aiohttp.ClientConnectionError:
                second = 0  # the port is closed: connection refused
            alive = node.proc is not None and node.proc.poll() is None
            row = (await asyncio.to_thread(node.ctl, "websockify"))[0]  # port closed: still told
            assert row["listen"] == f"127.0.0.1:{port}" and row["active"] == 1, row
            await first.close()
            return second, alive

    second, alive = asyncio.run(scenario())
    assert second in (0, 503), second
    assert alive, "the node stopped before the one session ended"
    assert node.proc is not None
    assert node.proc.wait(30) == 0
    assert node.log().count("--run-once: the session ended: stopping the node") >= 1


def test_a_program_that_dies_at_once_is_respawned_with_backoff(bridge_node: BridgeNode) -> None:
    node, _ = bridge_node(wrap=[sys.executable, "-c", "raise SystemExit(3)"],
                          wrap_mode="respawn")  # fmt: skip
    wait_until(lambda: "respawning" in node.log(), what="a respawn")
    asyncio.run(asyncio.sleep(7))
    starts = node.log().count("websockify: started ")
    # 1 s between starts would make 8 by now; doubling (1, 2, 4 s) makes at most 4
    assert 2 <= starts <= 4, node.log()[-3000:]
    assert "exited with status 3; respawning in 4s" in node.log()
