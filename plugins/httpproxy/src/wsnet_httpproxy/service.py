"""The exit side: the ``http`` service makes each channel's request to its upstream.

The request body is read from the channel as the upstream takes it, and the response
body written to the channel as the upstream sends it, so the link's credit bounds what
either end buffers.  The upstream connections come from one pooled aiohttp client
session (keep-alive).  When the entry node resets the channel (its client went away),
the upstream request is cancelled and its connection closed, not returned to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp

from wsnet import ChannelContext, ChannelRefused, ResetCode, StreamChannel, StreamService, Throttled

from .stats import HttpProxyError
from .upstream import Refused, brief, check
from .wire import VERSION, WireError, encode_head, end_to_end, read_head, to_multidict, write_head
from .wsbridge import exit_websocket

if TYPE_CHECKING:
    from .manager import Manager

log = logging.getLogger("wsnet.httpproxy")
CHUNK = 256 * 1024


class HttpService(StreamService):
    name = "http"

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self._log = Throttled(log, "httpproxy", 10.0)

    async def handle(self, channel: StreamChannel, ctx: ChannelContext) -> None:
        node = self.manager.node
        try:
            head = await read_head(channel, self.manager.settings.max_head)
            if head.get("v") != VERSION:
                raise WireError(f"unknown version {head.get('v')!r}")
        except WireError as exc:
            channel.abort(ResetCode.BAD_REQUEST, f"node {node.name!r}: {exc}")
            return
        route = str(head.get("route", ""))
        served = self.manager.served_for(route)
        served["requests"] += 1
        try:
            await self._serve(channel, ctx, head, route)
        except Refused as exc:
            served["errors"] += 1
            reason = f"node {node.name}: {exc.reason}"
            self._log.note("refused", "error", f"route {route}: {reason} ({exc.status})")
            node.emit(HttpProxyError(route, node.name, exc.status, reason))
            with contextlib.suppress(ChannelRefused):
                await write_head(channel, {"error": exc.status, "reason": reason})
                channel.write_eof()

    async def _serve(
        self, channel: StreamChannel, ctx: ChannelContext, head: dict[str, Any], route: str
    ) -> None:
        node = self.manager.node
        denial = node.authorize(ctx.principal, "open", f"http:{route}")
        if denial:
            raise Refused(502, f"{ctx.principal.name!r} may not open http:{route}: {denial}")
        try:
            headers = to_multidict(head.get("headers", []))
            connect_timeout = float(head.get("connect_timeout", 10.0))
            read_timeout = float(head.get("read_timeout", 60.0))
            target = str(head.get("target", "/"))
        except (WireError, TypeError, ValueError) as exc:
            raise Refused(502, f"bad request head: {exc}") from None
        # Only origin-form: the target is appended to the checked scheme://address:port,
        # and "@other:port/" would have made that the userinfo of another host.
        if not target.startswith("/"):
            raise Refused(502, f"bad request target {target[:80]!r}: expected /PATH")
        if not (0 < connect_timeout <= 86400 and 0 < read_timeout <= 86400):
            raise Refused(502, "bad request head: timeouts out of 0..86400 s")
        up = await check(
            node,
            self.manager.settings.targets,
            ctx.principal,
            str(head.get("upstream", "")),
            connect_timeout,
        )
        headers["Host"] = str(head.get("host") or up.display)
        via = f"1.1 {node.name}"
        if head.get("ws"):
            await exit_websocket(self.manager, channel, head, up, headers, via)
            return
        length = head.get("length")
        if isinstance(length, int) and length > 0:  # none: aiohttp writes 0 where it is due
            headers["Content-Length"] = str(length)
        body = _body(channel) if length != 0 else None
        # connect: also the wait for a free connection of a full pool (a 504, not a hang).
        timeout = aiohttp.ClientTimeout(
            connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        request = self.manager.session.request(
            str(head.get("method", "GET")),
            up.url(target),
            headers=headers,
            data=body,
            timeout=timeout,
            allow_redirects=False,
            ssl=bool(head.get("tls_verify", True)),
            server_hostname=up.name or None,
        )
        task = asyncio.ensure_future(request)
        watcher = channel.when_closed()  # a future, not a task per request
        try:
            both: set[asyncio.Future[Any]] = {task, watcher}
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():  # the entry side reset: its client went away
                task.cancel()
                return
            resp = _response(task, up.display, connect_timeout, read_timeout)
        finally:
            watcher.cancel()
        if resp.status < 200:  # 101 to a request that did not ask to upgrade: no HTTP left
            resp.close()
            raise Refused(502, f"upstream {up.display} answered {resp.status} to a plain request")
        await self._relay(channel, resp, via, up.display)

    async def _relay(
        self, channel: StreamChannel, resp: aiohttp.ClientResponse, via: str, shown: str
    ) -> None:
        """Response head and body to the channel; the connection back to the pool only
        when the body was read to its end."""
        done = False
        try:
            headers = end_to_end(resp.headers)
            headers.append(["Via", via])
            chunked = "chunked" in resp.headers.get("Transfer-Encoding", "").lower()
            length = None if chunked else resp.content_length
            head = encode_head(
                {
                    "status": resp.status,
                    "reason": resp.reason or "",
                    "headers": headers,
                    "length": length,
                }
            )
            # What of the body is here already leaves with the head, and a body that is
            # all here with the end of stream too: one frame for every hop to carry, not
            # three.  A body still to come is not waited for (an event stream's head).
            first = resp.content.read_nowait(CHUNK)
            whole = resp.content.at_eof()
            await channel.write(head + first, eof=whole)
            if not whole:
                while chunk := await resp.content.read(CHUNK):
                    await channel.write(chunk)
                channel.write_eof()
            done = True
        except ChannelRefused:
            log.debug("upstream %s: entry side went away, request cancelled", shown)
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = brief(f"upstream {shown}: {exc or 'read timeout'}")
            channel.abort(ResetCode.SERVICE_ERROR, why)
        finally:
            if done:
                resp.release()
            else:
                resp.close()  # never back to the pool half-read


def _response(
    task: asyncio.Future[aiohttp.ClientResponse], shown: str, ct: float, rt: float
) -> aiohttp.ClientResponse:
    """The upstream's response, or Refused with the status the entry node answers."""
    try:
        return task.result()
    except (aiohttp.ConnectionTimeoutError, aiohttp.SocketTimeoutError, TimeoutError):
        raise Refused(504, f"upstream {shown} timed out (connect {ct:g}s, read {rt:g}s)") from None
    except aiohttp.ClientConnectorError as exc:
        err = exc.os_error
        why = "connection refused" if isinstance(err, ConnectionRefusedError) else None
        raise Refused(502, f"upstream {shown}: {why or err.strerror or err}") from None
    except aiohttp.ClientError as exc:
        raise Refused(502, f"upstream {shown}: {type(exc).__name__}: {exc}") from None
    except ChannelRefused as exc:
        raise Refused(502, f"entry side: {exc.reason}") from None
    except ValueError as exc:  # aiohttp refuses CR/LF in a method or header (injection)
        raise Refused(502, f"bad request head: {exc}") from None


async def _body(channel: StreamChannel) -> AsyncIterator[bytes]:
    """The request body as the upstream connection takes it (credit returns as we read)."""
    while chunk := await channel.read(CHUNK):
        yield chunk
