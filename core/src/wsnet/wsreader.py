"""Binary WebSocket messages handed to the link by callback, from aiohttp's own parser.

aiohttp stays the WebSocket implementation (handshake, frame parser, control frames,
close); only the way a parsed binary message reaches the link changes.  aiohttp's parser
puts every message into a queue (``WebSocketDataQueue``) and wakes the task waiting in
``ws.receive()``: per message a future, a task step, and the ``receive()`` coroutine,
about a fifth of a node's Python time per request/response round trip (issue 18).  A
``TapQueue`` is that queue with one difference: while a callback is attached, a binary
message goes to the callback in the parser's own call (inside the socket's
``data_received``), and only the rest (close, ping, pong, text, errors, end of stream)
is queued for ``receive()``, which the link keeps waiting in for them.  A text or close
message detaches the callback: it ends the link, so what follows it in the stream is
queued behind it, never acted on ahead of it (pings and pongs do not reorder anything).

The queue is aiohttp's class, made where aiohttp makes it: ``tapping()`` replaces the
constructor aiohttp's server and client modules call (a private name, 3.11+) for the
WebSocket set up inside it only (a context variable, so other tasks and other
WebSockets in the process are not touched; tasks started from a dialled link's socket
callbacks inherit the variable, so a WebSocket one of them sets up gets a TapQueue that
nobody attaches to, which behaves as aiohttp's own queue).  Anything unexpected (another
aiohttp, the name moved): ``attach()`` returns False and the link reads through
``receive()`` as before.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import client as _client_mod
from aiohttp import web_ws as _server_mod
from aiohttp.http_websocket import WSMessage, WSMsgType

try:
    from aiohttp._websocket.reader import WebSocketDataQueue as _Queue

    _TAPPABLE = True
except ImportError:  # pragma: no cover - aiohttp 3.10: receive() only
    _TAPPABLE = False

OnMessage = Callable[[bytes], None]
_TAPPING: contextvars.ContextVar[bool] = contextvars.ContextVar("wsnet_tapping", default=False)
_installed: bool | None = None  # None: not tried yet; False: this aiohttp cannot be tapped


if _TAPPABLE:

    class TapQueue(_Queue):
        """aiohttp's message queue, with binary messages going to ``on_message`` while set."""

        __slots__ = ("on_message",)

        def __init__(self, protocol: Any, limit: int, *, loop: Any) -> None:
            super().__init__(protocol, limit, loop=loop)
            self.on_message: OnMessage | None = None

        def feed_data(self, data: Any, size: int) -> None:
            # aiohttp's parser calls this (a cpdef method: the override is honoured) once per
            # message, in the order of the stream.
            on_message = self.on_message
            if on_message is not None:
                kind = data[0]
                if kind is WSMsgType.BINARY:
                    on_message(data[1])
                    return
                if kind is not WSMsgType.PING and kind is not WSMsgType.PONG:
                    # A text or close message ends the link once receive() returns it:
                    # what follows in the stream waits behind it in the queue, as without
                    # the tap, and is never handed over ahead of it.
                    self.on_message = None
            _Queue.feed_data(self, data, size)

        def wake(self) -> None:
            """Queue an empty binary message: a ``receive()`` waiting returns it."""
            _Queue.feed_data(self, WSMessage(WSMsgType.BINARY, b"", None), 0)


def _make_queue(protocol: Any, limit: int, *, loop: Any) -> Any:
    cls = TapQueue if _TAPPING.get() else _Queue
    return cls(protocol, limit, loop=loop)


def _install() -> bool:
    """Point aiohttp's server and client at ``_make_queue``, once; False if they moved."""
    global _installed
    if _installed is None:
        _installed = False
        if _TAPPABLE and all(
            getattr(mod, "WebSocketDataQueue", None) in (_Queue, _make_queue)
            for mod in (_server_mod, _client_mod)
        ):
            for mod in (_server_mod, _client_mod):
                mod.WebSocketDataQueue = _make_queue  # type: ignore[attr-defined]
            _installed = True
    return _installed


@contextlib.contextmanager
def tapping() -> Iterator[None]:
    """WebSockets that aiohttp sets up inside this block (in this task) can be tapped:
    wrap ``ws.prepare(request)`` or ``session.ws_connect(...)`` in it."""
    _install()
    token = _TAPPING.set(True)
    try:
        yield
    finally:
        _TAPPING.reset(token)


def attach(ws: object, on_message: OnMessage) -> bool | None:
    """Deliver ``ws``'s binary messages to ``on_message`` from now on.  ``on_message`` is
    called by aiohttp's parser: it must not raise.  True: attached; None: not yet, messages
    are queued (read them with ``receive()`` first, or order is lost), try again after;
    False: ``ws`` was not set up inside ``tapping()`` (read with ``receive()``)."""
    queue = getattr(ws, "_reader", None)
    if not _TAPPABLE or not isinstance(queue, TapQueue):
        return False
    if queue._buffer:
        return None
    queue.on_message = on_message
    return True


def detach(ws: object) -> None:
    """Binary messages go to ``receive()`` again (those delivered already stay delivered)."""
    queue = getattr(ws, "_reader", None)
    if _TAPPABLE and isinstance(queue, TapQueue):
        queue.on_message = None


def wake(ws: object) -> None:
    """Make a ``receive()`` waiting on ``ws`` return (an empty binary message)."""
    queue = getattr(ws, "_reader", None)
    if _TAPPABLE and isinstance(queue, TapQueue):
        queue.wake()
