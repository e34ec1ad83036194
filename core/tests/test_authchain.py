"""A failing authenticator fails closed, quietly: 500 without a traceback in the answer,
and one log line per period however many requests hit it (a caller who can reach the
listener must not fill the log)."""

from __future__ import annotations

import logging
import types

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from wsnet import Authenticator, Principal
from wsnet.config import Config
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager
from wsnet.server import link_app


class Broken(Authenticator):
    name = "broken"

    async def authenticate(self, request: web.Request) -> Principal | None:
        raise RuntimeError("the token database is gone")


async def test_a_failing_authenticator_refuses_with_500_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = types.ModuleType("broken_auth")
    plugin.wsnet_register_authenticators = lambda: [Broken()]  # type: ignore[attr-defined]
    pm = new_manager()
    pm.register(plugin, name="broken_auth")
    node = Node(Config(name="n"), Plugins(pm, ["broken_auth"]))
    caplog.set_level(logging.WARNING, logger="wsnet.server")
    async with TestServer(link_app(node, "/wsnet")) as server, aiohttp.ClientSession() as http:
        for _ in range(20):
            async with http.get(server.make_url("/wsnet")) as resp:
                assert resp.status == 500
                assert await resp.text() == "authentication failed\n"
    lines = [r for r in caplog.records if "failing authenticator 'broken'" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert "RuntimeError: the token database is gone" in lines[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


async def test_node_authenticate_returns_the_refusal_and_emits_the_event() -> None:
    """NodeAPI.authenticate: what plugins with their own HTTP listeners ask (websockify)."""
    from wsnet import AuthDenied, AuthFailure, NodeEvent

    plugin = types.ModuleType("broken_auth")
    plugin.wsnet_register_authenticators = lambda: [Broken()]  # type: ignore[attr-defined]
    pm = new_manager()
    pm.register(plugin, name="broken_auth")
    node = Node(Config(name="n"), Plugins(pm, ["broken_auth"]))
    seen: list[NodeEvent] = []
    node.observers.append(types.SimpleNamespace(notify=seen.append))  # type: ignore[arg-type]
    answers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        answers.append(await node.authenticate(request, "link", what="my bridge: refused"))
        return web.Response()

    app = web.Application()
    app.router.add_get("/", handler)
    async with (
        TestServer(app) as server,
        aiohttp.ClientSession() as http,
        http.get(server.make_url("/")) as resp,
    ):
        assert resp.status == 200
    assert answers == [AuthDenied(500, "authentication failed", {}, "broken")]
    assert isinstance(seen[0], AuthFailure) and seen[0].method == "broken"
    assert answers[0].http_error().status == 500  # type: ignore[attr-defined]
