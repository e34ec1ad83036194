"""Bridges in real nodes against a real echo process: bytes by hash, subprotocols, tokens,
close codes, the web directory, TLS on the same port, and targets through the mesh."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from wsfy_client import close_of, get, roundtrip, status_of
from wsfy_support import BridgeNode, Pki

from wsnet.testing import NodeFactory, free_port, wait_until

MIB = 1024 * 1024


@pytest.mark.parametrize("protocols", [("binary",), ("base64",), ()])
def test_100_mib_echo_verified_by_hash(
    bridge_node: BridgeNode, echo_port: int, protocols: tuple[str, ...]
) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}")
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 100 * MIB, protocols))
    assert r.nbytes == 100 * MIB
    assert r.received == r.sent
    assert r.protocol == (protocols[0] if protocols else None)
    info = node.ctl("websockify")[0]
    assert info["bytes_in"] == info["bytes_out"] == 100 * MIB


def test_subprotocol_choice_as_websockify(bridge_node: BridgeNode, echo_port: int) -> None:
    _node, port = bridge_node(target=f"127.0.0.1:{echo_port}")
    url = f"ws://127.0.0.1:{port}/websockify"
    both = asyncio.run(roundtrip(url, 1000, ("base64", "binary")))
    assert both.protocol == "binary"  # binary preferred, whatever the client's order
    assert asyncio.run(status_of(url, protocols=("chat",)))[0] == 400


def test_tokens_file_edited_while_running_and_unknown_token(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "a.conf").write_text("# vnc targets\nold: 127.0.0.1:1\n")
    _node, port = bridge_node(token_plugin="TokenFile", token_source=str(tokens))
    base = f"ws://127.0.0.1:{port}/websockify"
    code, reason, _ = asyncio.run(close_of(f"{base}?token=nope"))
    assert (code, reason) == (1008, "Token 'nope' not found")
    code, reason, _ = asyncio.run(close_of(base))
    assert (code, reason) == (1008, "Token not present")
    code, reason, _ = asyncio.run(close_of(f"{base}?token=old"))
    assert code == 1011 and reason.startswith("Failed to connect to downstream server")
    (tokens / "b.conf").write_text(f"vnc1: 127.0.0.1:{echo_port}\n")  # a new file, no restart
    r = asyncio.run(roundtrip(f"{base}?token=vnc1", 4 * MIB))
    assert r.received == r.sent
    # noVNC's form: vnc.html?path=websockify%3Ftoken%3Dvnc1 asks for /websockify?token=vnc1;
    # a client that passes the path parameter on as it is works too
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/?path=websockify%3Ftoken%3Dvnc1", 1000))
    assert r.received == r.sent
    (tokens / "b.conf").write_text("vnc2: 127.0.0.1:1\n")  # edited: vnc1 is gone
    code, reason, _ = asyncio.run(close_of(f"{base}?token=vnc1"))
    assert (code, reason) == (1008, "Token 'vnc1' not found")


def test_json_token_api(bridge_node: BridgeNode, echo_port: int) -> None:
    api_port = free_port()

    async def token(request: web.Request) -> web.Response:
        if request.match_info["token"] != "good":
            return web.Response(status=404)
        return web.json_response({"host": "127.0.0.1", "port": echo_port})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/token/{token}", token)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", api_port).start()
        try:
            r = await roundtrip(f"ws://127.0.0.1:{port}/websockify?token=good", MIB)
            assert r.received == r.sent
            assert (await close_of(f"ws://127.0.0.1:{port}/?token=bad"))[:2] == (
                1008, "Token 'bad' not found"
            )  # fmt: skip
        finally:
            await runner.cleanup()

    _, port = bridge_node(token_plugin="JSONTokenApi",
                          token_source=f"http://127.0.0.1:{api_port}/token/%s")  # fmt: skip
    asyncio.run(scenario())


def test_target_closed_and_unreachable_close_codes(bridge_node: BridgeNode) -> None:
    dead = free_port()
    _, port = bridge_node(target=f"127.0.0.1:{dead}")
    code, reason, _ = asyncio.run(close_of(f"ws://127.0.0.1:{port}/"))
    assert code == 1011
    assert reason.startswith("Failed to connect to downstream server: ")


def test_web_directory_traversal_mime_and_plain_http(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    root = tmp_path / "www"
    (root / "app").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "app" / "ui.js").write_text("export const x = 1;")
    (tmp_path / "secret.txt").write_text("do not serve")
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", web=str(root))
    base = f"http://127.0.0.1:{port}"
    assert asyncio.run(get(base + "/")) == (200, "text/html", b"<h1>home</h1>")
    assert asyncio.run(get(base + "/app/ui.js"))[:2] == (200, "text/javascript")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/app/..%2f..%2fsecret.txt",
                 "/app/%2e%2e%2f%2e%2e%2fsecret.txt", "/%2fetc%2fpasswd",
                 "/nothing.html"):  # fmt: skip
        status, _, body = asyncio.run(get(base + path))
        assert status == 404, path
        assert b"do not serve" not in body
    status, _, body = asyncio.run(get(base + "/websockify"))
    assert status == 400 and b"WebSocket endpoint" in body


def test_origin_allow_list_and_basic_auth(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    subprocess.run(["htpasswd", "-b", "-B", "-c", str(users), "alice", "s3cret"], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    _, port = bridge_node(
        target=f"127.0.0.1:{echo_port}", origins=["http://good.example"],
        plugins=["auth_htpasswd"], config={"auth_htpasswd": {"file": str(users)}},
    )  # fmt: skip
    url = f"ws://127.0.0.1:{port}/websockify"
    good = {"Origin": "http://good.example"}
    assert asyncio.run(status_of(url, headers={"Origin": "http://evil.example"}))[0] == 403
    assert asyncio.run(status_of(url, headers=good))[0] == 401
    bad = {**good, "Authorization": aiohttp.encode_basic_auth("alice", "wrong")}
    assert asyncio.run(status_of(url, headers=bad))[0] == 401
    ok = {**good, "Authorization": aiohttp.encode_basic_auth("alice", "s3cret")}
    r = asyncio.run(roundtrip(url, MIB, headers=ok))
    assert r.received == r.sent


def test_authz_grants_per_token(bridge_node: BridgeNode, echo_port: int, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"mine: 127.0.0.1:{echo_port}\ntheirs: 127.0.0.1:{echo_port}\n")
    authz = {"default": "deny", "principal": {"anonymous": {"open": ["websockify:mine"]}}}
    _, port = bridge_node(token_plugin="TokenFile", token_source=str(tokens),
                          config={"authz": authz})  # fmt: skip
    base = f"ws://127.0.0.1:{port}/websockify?token="
    assert asyncio.run(status_of(base + "theirs"))[0] == 403
    assert asyncio.run(roundtrip(base + "mine", 1000)).received


def test_ws_and_wss_on_one_port_and_ssl_only(
    bridge_node: BridgeNode, echo_port: int, pki: Pki
) -> None:
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", cert=str(pki.cert), key=str(pki.key))
    for scheme, c in (("ws", None), ("wss", ctx)):
        r = asyncio.run(roundtrip(f"{scheme}://127.0.0.1:{port}/", 8 * MIB, ssl_ctx=c))
        assert r.received == r.sent, scheme
    _, only = bridge_node("b", target=f"127.0.0.1:{echo_port}", cert=str(pki.cert),
                          key=str(pki.key), ssl_only=True)  # fmt: skip
    assert asyncio.run(roundtrip(f"wss://127.0.0.1:{only}/", MIB, ssl_ctx=ctx)).received
    with pytest.raises(aiohttp.ClientError):
        asyncio.run(roundtrip(f"ws://127.0.0.1:{only}/", 10))


def test_target_through_two_hops(
    wsnet_node_factory: NodeFactory, bridge_node: BridgeNode, echo_port: int
) -> None:
    """a (bridge) dials b; c dials b; c's tcp service connects the target: a → b → c."""
    b = wsnet_node_factory("b")
    tcp = {"tcp": {"targets": [f"127.0.0.1:{echo_port}"]}}
    c = wsnet_node_factory("c", listen=False, dial=[b.url], plugins=["tcp"], config=tcp)
    a, port = bridge_node("a", dial=[b.url], target=f"127.0.0.1:{echo_port}@c")
    wait_until(lambda: '"c"' in json.dumps(a.ctl("routes")), timeout=20, what="a routes to c")
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 16 * MIB))
    assert r.received == r.sent
    assert c.ctl("tunnels")  # the far node counted the connection
    refused = {"tcp": {"targets": []}}  # nothing allowed at d: the browser hears why
    d = wsnet_node_factory("d", listen=False, dial=[b.url], plugins=["tcp"], config=refused)
    e, port2 = bridge_node("e", dial=[b.url], target=f"127.0.0.1:{echo_port}@d")
    wait_until(lambda: '"d"' in json.dumps(e.ctl("routes")) and d.peers(), timeout=20,
               what="e has a route to d")  # fmt: skip
    code, reason, _ = asyncio.run(close_of(f"ws://127.0.0.1:{port2}/"))
    assert code == 1011 and "targets" in reason


def test_record_file(bridge_node: BridgeNode, echo_port: int, tmp_path: Path) -> None:
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", record=str(tmp_path / "rec"))
    assert asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/", 1000)).received
    rec = tmp_path / "rec.1"
    # written through a buffer, complete once the bridge has seen the close: wait for it
    wait_until(lambda: rec.exists() and rec.read_text().endswith("\n") and
               len(rec.read_text().splitlines()) >= 3, timeout=10, what="the record")  # fmt: skip
    lines = rec.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["wsnet_websockify_record"] == 1 and head["subprotocol"] == "binary"
    frames = [json.loads(x) for x in lines[1:]]
    assert {f["dir"] for f in frames} == {"in", "out"}
    assert all(f["t"] >= 0 for f in frames)


def test_client_certificate_names_the_principal(
    bridge_node: BridgeNode, echo_port: int, pki: Pki, tmp_path: Path
) -> None:
    """verify_client with wsnet-mtls: the certificate's CN is the principal [authz] sees."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice-vnc: 127.0.0.1:{echo_port}\nbob-vnc: 127.0.0.1:{echo_port}\n")
    authz = {"default": "deny", "principal": {"alice": {"open": ["websockify:alice-*"]}}}
    _, port = bridge_node(
        token_plugin="TokenFile", token_source=str(tokens), cert=str(pki.cert),
        key=str(pki.key), verify_client=True, cafile=str(pki.ca), plugins=["mtls"],
        config={"mtls": {"ca_file": str(pki.ca)}, "authz": authz,  # mtls wants link TLS too
                "listen": {"tls_cert": str(pki.cert), "tls_key": str(pki.key)}},
    )  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    base = f"wss://127.0.0.1:{port}/websockify?token="
    assert asyncio.run(roundtrip(base + "alice-vnc", MIB, ssl_ctx=ctx)).received
    assert asyncio.run(status_of(base + "bob-vnc", ssl=ctx))[0] == 403
    anonymous = ssl.create_default_context(cafile=str(pki.ca))  # no client certificate
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        asyncio.run(roundtrip(base + "alice-vnc", 10, ssl_ctx=anonymous))
