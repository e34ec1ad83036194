"""A real node against a hand-driven WebSocket peer: bad HELLOs and frames get defined closes."""

from __future__ import annotations

import json
import struct
import urllib.request

import aiohttp
import pytest

from wsnet.protocol import CloseCode, FrameType, encode_frame
from wsnet.testing import NodeProcess, wait_until

HELLO = {
    "proto": "wsnet",
    "version": 1,
    "node": "probe",
    "caps": [],
    "window": 65536,
    "max_frame": 16384,
    "max_message": 32768,
    "max_channels": 16,
}


def _hello(**changes: object) -> bytes:
    return encode_frame(FrameType.HELLO, 0, 0, json.dumps({**HELLO, **changes}).encode())


async def _exchange(url: str, *messages: bytes | str) -> tuple[int | None, str, list[bytes]]:
    """Send ``messages``, collect binary replies until the node closes; (code, reason, replies)."""
    replies: list[bytes] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            url, protocols=("wsnet",), timeout=aiohttp.ClientWSTimeout(ws_close=5)
        ) as ws,
    ):
        try:
            for msg in messages:
                if isinstance(msg, str):
                    await ws.send_str(msg)
                else:
                    await ws.send_bytes(msg)
        except ConnectionError:
            # The node closed and the kernel reset the connection while we were still
            # sending (an oversized message): to the peer that is an abnormal close.
            return 1006, "connection reset while sending", replies
        for _ in range(20):  # bounded: a node sends HELLO, maybe a PING, then closes
            reply = await ws.receive(timeout=8)
            if reply.type == aiohttp.WSMsgType.BINARY:
                replies.append(reply.data)
            elif reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code, str(reply.extra or ""), replies
        pytest.fail("node kept the link open")


async def test_version_mismatch_closes_4001(wsnet_node: NodeProcess) -> None:
    code, reason, replies = await _exchange(wsnet_node.url, _hello(version=2))
    assert code == CloseCode.VERSION_MISMATCH
    assert "peer speaks 2, this node speaks 1" in reason
    # the node introduced itself first, so the peer can tell which version it speaks
    hello = json.loads(replies[0][10:])
    assert hello["version"] == 1
    assert hello["node"] == "a"
    assert wsnet_node.peers() == set()


async def test_frame_before_hello_is_protocol_error(wsnet_node: NodeProcess) -> None:
    code, reason, _ = await _exchange(wsnet_node.url, encode_frame(FrameType.PING, 0, 0, b"x" * 8))
    assert code == CloseCode.PROTOCOL_ERROR
    assert "expected HELLO first" in reason


@pytest.mark.parametrize(
    ("message", "code", "words"),
    [
        (b"\x63" + b"\x00" * 9, CloseCode.PROTOCOL_ERROR, "unknown frame type 99"),
        (b"\x04\x00", CloseCode.PROTOCOL_ERROR, "truncated frame header"),
        (struct.pack("!BBII", 4, 0, 1, 500) + b"abc", CloseCode.PROTOCOL_ERROR, "truncated"),
        ("a text message", CloseCode.PROTOCOL_ERROR, "text"),
    ],
)
async def test_malformed_input_after_hello(
    wsnet_node: NodeProcess, message: bytes | str, code: int, words: str
) -> None:
    got, reason, _ = await _exchange(wsnet_node.url, _hello(), message)
    assert got == code
    assert words in reason


async def test_oversized_message_closes_1009(wsnet_node: NodeProcess) -> None:
    big = encode_frame(FrameType.DATA, 0, 1, b"\0" * (2 << 20))
    got, _, _ = await _exchange(wsnet_node.url, _hello(), big)
    # The node answers with close 1009, but it also stops reading the rest of the
    # 2 MiB, so the kernel may reset the connection before the close frame lands.
    assert got in (CloseCode.MESSAGE_TOO_BIG, 1006)
    line = wait_until(
        lambda: [x for x in wsnet_node.log().splitlines() if "down: probe" in x],
        what="link down logged",
    )[0]
    assert "code 1009" in line
    assert wsnet_node.ctl("status")["links"] == 0


async def test_bad_node_name_and_own_name(wsnet_node: NodeProcess) -> None:
    got, reason, _ = await _exchange(wsnet_node.url, _hello(node="bad name!"))
    assert got == CloseCode.BAD_NODE_NAME
    assert "invalid node name" in reason
    got, reason, _ = await _exchange(wsnet_node.url, _hello(node="a"))
    assert got == CloseCode.DUPLICATE_NODE
    assert "also calls itself 'a'" in reason


async def test_good_links_survive_a_bad_one(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    a, b = wsnet_linked_nodes
    await _exchange(a.url, _hello(), b"\xff" * 12)
    # The probe's link is dropped right after its close frame went out.
    wait_until(lambda: a.peers() == {"b"}, timeout=5, what="only b linked")
    assert b.ctl("ping", node="a", count=2)["count"] == 2


def test_plain_http_get_gets_426(wsnet_node: NodeProcess) -> None:
    url = wsnet_node.url.replace("ws://", "http://")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=5)
    assert info.value.code == 426
