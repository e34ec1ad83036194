"""Token sources under hostile input: a JSON token API whose answer carries text where a
number belongs (``"port": "5901@othernode"``) names no other node, and a token file's odd
lines (no target, a second colon, a huge line) are skipped or refused one by one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from wsfy_client import close_of, roundtrip
from wsfy_support import BridgeNode

from wsnet.testing import free_port


def test_json_answers_are_checked_field_by_field(bridge_node: BridgeNode, echo_port: int) -> None:
    api_port = free_port()
    answers: dict[str, Any] = {
        "good": {"host": "127.0.0.1", "port": echo_port},
        "portnode": {"host": "127.0.0.1", "port": f"{echo_port}@elsewhere"},
        "hostnode": {"host": "127.0.0.1:1@elsewhere", "port": echo_port},
        "badnode": {"host": "127.0.0.1", "port": echo_port, "node": "a b"},
        "list": ["127.0.0.1", echo_port],
    }

    async def token(request: web.Request) -> web.Response:
        return web.json_response(answers[request.match_info["token"]])

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/token/{token}", token)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", api_port).start()
        base = f"ws://127.0.0.1:{port}/websockify?token="
        try:
            r = await roundtrip(base + "good", 1000)
            assert r.received == r.sent
            for name in ("portnode", "hostnode", "badnode", "list"):
                code, reason, _ = await close_of(base + name)
                assert (code, reason) == (1008, f"Token '{name}' not found"), (name, reason)
        finally:
            await runner.cleanup()

    node, port = bridge_node(token_plugin="JSONTokenApi",
                             token_source=f"http://127.0.0.1:{api_port}/token/%s")  # fmt: skip
    asyncio.run(scenario())
    assert "elsewhere" not in str(node.ctl("websockify"))


def test_odd_token_file_lines(bridge_node: BridgeNode, echo_port: int, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"nocolon 127.0.0.1:{echo_port}\nempty: \ntwo: x: y\n{'z' * 100000}: a:1\n"
                      f"good: 127.0.0.1:{echo_port}\n")  # fmt: skip
    node, port = bridge_node(token_plugin="TokenFile", token_source=str(tokens))
    base = f"ws://127.0.0.1:{port}/websockify?token="
    assert asyncio.run(roundtrip(base + "good", 1000)).received
    code, reason, _ = asyncio.run(close_of(base + "two"))
    assert code == 1008 and reason.startswith("token 'two':"), reason
    assert asyncio.run(close_of(base + "nocolon"))[:2] == (1008, "Token 'nocolon' not found")
    assert "line 1: expected 'token: host:port'" in node.log()
