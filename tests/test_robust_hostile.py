"""Issue 12, faults 2 and 4: a real node against a hand-driven peer (tests/hostile_peer.py).

A channel's mishap must stay in that channel (fault 2), and a peer must not be able to
grow the node's memory without bound (fault 4): RSS is read from /proc/PID/status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from hostile_peer import (
    MAX_FRAME,
    WINDOW,
    RawPeer,
    RawSocket,
    accept,
    data,
    hello,
    open_,
    ping,
    reset,
)
from wsnet.protocol import CloseCode, FrameType
from wsnet.protocol.messages import decode_u32
from wsnet.testing import NodeProcess
from wsnet.testing_tcp import rss_kib

MIB = 1 << 20


def _pid(node: NodeProcess) -> int:
    assert node.proc is not None
    return node.proc.pid


def _beyond_window(cid: int) -> list[bytes]:
    """window + 1 bytes in frames no larger than max_frame: one byte more than credit."""
    left, frames = WINDOW + 1, []
    while left:
        n = min(left, MAX_FRAME)
        frames.append(data(cid, b"\0" * n))
        left -= n
    return frames


# Each is one WebSocket message: an OPEN and, behind it, a frame that ends the channel.
FAULTY: dict[str, Callable[[int], list[bytes]]] = {
    "open_then_reset": lambda cid: [open_(cid, "echo"), reset(cid)],
    "open_then_accept_from_opener": lambda cid: [open_(cid, "echo"), accept(cid)],
    "open_then_data_beyond_window": lambda cid: [open_(cid, "echo"), *_beyond_window(cid)],
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(FAULTY))
async def test_channel_error_in_one_message_stays_in_its_channel(
    wsnet_node: NodeProcess, case: str
) -> None:
    async with RawPeer.link(wsnet_node.url) as peer:
        for _ in range(3):  # more than once: one survivable mishap is not enough
            await peer.send(*FAULTY[case](peer.next_id()))
        # The same link carries a new channel afterwards.
        assert await peer.echo(b"still linked", timeout=5) == b"still linked"
        assert peer.up, f"link closed: {peer.close_code} {peer.close_reason!r}"
    assert "Traceback" not in wsnet_node.log(), wsnet_node.log()[-3000:]


# ------------------------------------------------------------------ memory
@pytest.mark.slow
@pytest.mark.timeout(60)
def test_unread_pongs_do_not_grow_memory(wsnet_node: NodeProcess) -> None:
    """PINGs as fast as the node takes them from a peer that never reads its socket."""
    pid = _pid(wsnet_node)
    idle = rss_kib(pid)
    sock = RawSocket("127.0.0.1", wsnet_node.port or 0)
    message = b"".join(ping(i) for i in range(50_000))  # ~900 KB: 50,000 PINGs
    sent, peak = 0, idle
    try:
        sock.send_binary(hello("flood"))
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            try:
                sock.send_binary(message)
            except OSError:
                break  # the node may close a peer that never reads: that is a bound too
            sent += len(message)
            peak = max(peak, rss_kib(pid))
        time.sleep(0.5)
        peak = max(peak, rss_kib(pid))
    finally:
        sock.close()
    growth = (peak - idle) / 1024
    assert growth < 64, f"RSS grew by {growth:.0f} MiB for {sent / MIB:.0f} MiB of unread PINGs"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "limits",
    [{"max_frame": 1}, {"max_frame": 16384, "max_message": 16384 + 9}],
    ids=["max_frame_1", "max_message_below_max_frame_plus_header"],
)
async def test_hello_with_absurd_limits_is_refused(
    wsnet_node: NodeProcess, limits: dict[str, int]
) -> None:
    async with RawPeer.link(wsnet_node.url, expect_up=False, limits=limits) as peer:
        code, reason = await peer.wait_closed(3)
    assert code == CloseCode.PROTOCOL_ERROR, f"HELLO {limits} accepted (close {code} {reason!r})"
    assert "max_frame" in reason or "max_message" in reason, reason


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_buffered_byte_does_not_pin_its_message(wsnet_node: NodeProcess) -> None:
    """A trickle channel whose reader is slow shares each ~1 MiB message with a bulk
    channel that is read at once (as any node packs them): each buffered 1-byte frame
    of the trickle must not keep its whole message alive."""
    pid = _pid(wsnet_node)
    async with RawPeer.link(wsnet_node.url) as peer:
        slow, bulk = peer.next_id(), peer.next_id()
        # sink at 1 byte/s reads ~nothing during the test; sink without rate reads at once.
        await peer.send(
            open_(slow, "sink", args={"rate": 1, "verify": False}),
            open_(bulk, "sink", args={"verify": False}),
        )
        credit = int(peer.node_hello["window"])
        pad = b"\0" * MAX_FRAME
        await asyncio.sleep(0.5)
        idle = rss_kib(pid)
        for _ in range(250):
            while credit < 7 * MAX_FRAME:  # respect the bulk channel's credit
                fr = await peer.next_frame(bulk, 10)
                assert fr.type in (FrameType.ACCEPT, FrameType.WINDOW), fr
                if fr.type == FrameType.WINDOW:
                    credit += decode_u32(fr.payload, "WINDOW")
            await peer.send(data(slow, b"x"), *(data(bulk, pad) for _ in range(7)))
            credit -= 7 * MAX_FRAME
        await peer.echo(b"sync", timeout=10)  # everything before it was processed
        growth = (rss_kib(pid) - idle) / 1024
        assert peer.up
    assert growth < 64, f"RSS grew by {growth:.0f} MiB for 250 buffered bytes"
