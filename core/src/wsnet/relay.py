"""Relaying a channel whose destination is another node: splice two channels.

Stream relays copy with the channels' own flow control (a chunk is read, and
credit returned upstream, only once the downstream write was accepted), so a
relay buffers at most about one window per direction per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .channel import Channel, DatagramChannel, StreamChannel
from .errors import ChannelRefused
from .protocol import ChannelError, OpenRequest, ResetCode

if TYPE_CHECKING:
    from .link import Link
    from .node import Node


async def relay_channel(node: Node, in_link: Link, cid: int, req: OpenRequest) -> None:
    def refuse(code: int, reason: str) -> None:
        in_link.session.reset(cid, code, reason)
        in_link.wake_writer()

    if req.ttl <= 1:
        refuse(ResetCode.UNREACHABLE, f"ttl exceeded at {node.name!r} on the way to {req.dst!r}")
        return
    route = node.routing.lookup(req.dst)
    out_link = node.links.get(route.link_id) if route else None
    if out_link is None or out_link is in_link:
        refuse(ResetCode.UNREACHABLE, f"node {node.name!r} has no route to {req.dst!r}")
        return
    in_ch = in_link.new_channel(cid, req, local=False)  # buffers 0-RTT data meanwhile
    try:
        out_ch = out_link.open(
            req.kind,
            req.service,
            src=req.src,
            args=req.args,
            dst="" if req.dst == out_link.peer else req.dst,
            ttl=req.ttl - 1,
        )
        await out_ch.wait_accepted()
    except ChannelError as exc:
        in_ch.abort(ResetCode.TOO_MANY_CHANNELS, f"relay {node.name!r}: {exc}")
        return
    except ChannelRefused as exc:
        in_ch.abort(exc.code, exc.reason)
        return
    in_link.session.accept(cid)
    in_link.wake_writer()
    await splice(in_ch, out_ch)


async def splice(a: Channel, b: Channel) -> None:
    """Join two channels of the same kind until both directions end."""
    if isinstance(a, StreamChannel) and isinstance(b, StreamChannel):
        await asyncio.gather(_pump(a, b), _pump(b, a))
    elif isinstance(a, DatagramChannel) and isinstance(b, DatagramChannel):
        a.on_datagram = b.send
        b.on_datagram = a.send
        _done, _ = await asyncio.wait(
            [asyncio.ensure_future(a.wait_closed()), asyncio.ensure_future(b.wait_closed())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        a.close()
        b.close()


async def _pump(src: StreamChannel, dst: StreamChannel) -> None:
    try:
        while chunk := await src.read_chunk():
            await dst.write(chunk)
        dst.write_eof()
    except ChannelRefused as exc:
        with contextlib.suppress(Exception):
            src.abort(exc.code, exc.reason)
            dst.abort(exc.code, exc.reason)
