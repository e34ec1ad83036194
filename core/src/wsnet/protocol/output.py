"""What a session sends, in which order: control first, then data round-robin by bytes.

Every message starts with the queued control frames (so credit returns, RESETs and
PONGs never wait behind bulk data), then the coalesced ones (one PONG, one ROUTES, one
WINDOW per channel), then data from the channels that have some, served in turn with a
quantum of bytes each (deficit round-robin, as yamux and HTTP/2 servers do), so that a
thousand streams share a link and none starves.  Data stays in its channel's queue,
uncopied, until the message that carries it is built.
"""

from __future__ import annotations

from collections import deque

from . import messages as m
from .chstate import ChannelState
from .frames import HEADER_SIZE, Flag, FrameType, encode_header

# Bytes a channel may send per turn while others also have data.  Larger turns cost
# fewer frames (each frame costs the receiver an event); smaller ones interleave finer.
QUANTUM = 64 * 1024
_WINDOW_FRAME = HEADER_SIZE + 4
# Seconds a turn handed to a waiting writer holds its room before the writer's first
# send (then the turn's room is released, and the turn itself ends): a writer that
# never uses its turn cannot keep the room from the others for longer.
GRANT_TTL = 0.05
# The largest turn: a share computed while one or two writers waited (2 MiB) made that
# stream run twice the median once a thousand others joined.
MAX_TURN = 256 * 1024
# The smallest: each turn costs the writer a wake, a paused and a resumed socket and a
# read.  Turns of 128 KiB cost a fifth less CPU per byte with a thousand streams, but
# the kernel's receive auto-tuning then grows each source socket's buffer to about
# 1 MiB (0.9 GiB of kernel memory for 1,000 streams against 0.3 at 64 KiB), and near
# the host's TCP memory pressure mark the link's own socket drops segments and stalls
# on retransmission timeouts (one 5 s run in five at 30-100 MB/s).
MIN_TURN = QUANTUM


class Output:
    """The outbound queue of one session (no I/O)."""

    def __init__(self) -> None:
        self._ctrl: deque[bytes] = deque()  # whole frames, in order
        self.ctrl_bytes = 0
        self._pong = b""  # the latest PING's payload to answer; older ones are superseded
        self._ping = b""
        self._routes = b""  # the latest ROUTES advert: each replaces the previous one
        self._windows: dict[int, ChannelState] = {}  # channels with credit to return
        self._ring: deque[ChannelState] = deque()  # channels with data or a FIN queued
        self.data_bytes = 0  # payload bytes queued in the channels of the ring
        self._waiting: deque[ChannelState] = deque()  # writers waiting for send_buffer room
        # Writers woken for a turn in the last GRANT_TTL seconds whose turn is not used
        # up, by id, with when; the room of those that have not sent yet is reserved
        # for them (they read their sockets in the next loop turns) ...
        self._granted: dict[int, tuple[float, ChannelState]] = {}
        self.reserved = 0  # ... this many bytes of send_buffer in all (their holds)
        self.bytes_out = 0

    # ----------------------------------------------------------------- queueing
    def control(self, ftype: int, cid: int, payload: bytes = b"", flags: int = 0) -> None:
        self._ctrl.append(encode_header(ftype, flags, cid, len(payload)) + payload)
        self.ctrl_bytes += HEADER_SIZE + len(payload)

    def pong(self, payload: bytes) -> None:
        self._pong = payload

    def ping(self, payload: bytes) -> None:
        self._ping = payload

    def routes(self, payload: bytes) -> None:
        self._routes = payload

    def window(self, ch: ChannelState, increment: int) -> None:
        ch.win_pending += increment
        self._windows[ch.id] = ch

    def data(self, ch: ChannelState, payload: bytes | memoryview) -> None:
        if ch.out is None:
            ch.out = deque()
        ch.out.append(payload)
        ch.queued += len(payload)
        self.data_bytes += len(payload)
        self._schedule(ch)

    def fin(self, ch: ChannelState) -> None:
        ch.fin_queued = True
        self._schedule(ch)

    def reset_after(self, ch: ChannelState, payload: bytes) -> None:
        """A RESET that goes out after the channel's queued data (a flushing close)."""
        ch.reset_after = payload
        self._schedule(ch)

    def _schedule(self, ch: ChannelState) -> None:
        if not ch.in_ring:
            ch.in_ring = True
            self._ring.append(ch)

    def discard(self, ch: ChannelState) -> None:
        """The channel was reset: its queued output and credit return are dropped."""
        ch.dead = True
        self._release(ch)
        self.data_bytes -= ch.queued
        ch.out = None
        ch.queued = 0
        ch.fin_queued = False
        ch.reset_after = b""
        if self._windows.get(ch.id) is ch:
            del self._windows[ch.id]

    def wait_for_room(self, ch: ChannelState, front: bool = False) -> None:
        """``ch`` waits for a turn; ``front``: it was woken for one and found no room,
        so it keeps its place and what is left of its turn."""
        if not ch.waiting:
            self._release(ch)
            ch.waiting = True
            if front:
                self._waiting.appendleft(ch)
            else:
                self._waiting.append(ch)

    # ---------------------------------------------------------------- inspection
    @property
    def pending(self) -> bool:
        return bool(self._ctrl or self._ring or self._windows or self._pong or self._ping
                    or self._routes)  # fmt: skip

    @property
    def urgent(self) -> bool:
        """Data or control frames (OPEN, ACCEPT, RESET) queued: worth a write of their own.
        Credit returns, PINGs and PONGs alone can wait a moment for data to ride on."""
        return bool(self._ring or self._ctrl)

    @property
    def pending_bytes(self) -> int:
        """Queued bytes, coalesced frames included (their headers counted)."""
        coalesced = sum(HEADER_SIZE + len(p) for p in (self._pong, self._ping, self._routes) if p)
        return self.ctrl_bytes + self.data_bytes + coalesced + _WINDOW_FRAME * len(self._windows)

    @property
    def active(self) -> int:
        """Channels that want the send buffer: those with output queued and the writers
        waiting for room (a writer can be both; counted twice, its share is smaller)."""
        return len(self._ring) + len(self._waiting)

    def share(self, send_buffer: int) -> int:
        """What one channel may queue: a fair part of the send buffer, at least a turn.

        The waiting writers count: dividing by the ring alone (a few channels between
        two turns) granted the writers woken then turns of a megabyte and more, and
        with a thousand streams some ran five times the median (docs/performance.md)."""
        return max(MIN_TURN, send_buffer // (1 + self.active))

    @property
    def has_waiting(self) -> bool:
        return bool(self._waiting)

    def take_waiting(self, room: int, share: int, now: float) -> list[int]:
        """Writers to wake now that ``room`` bytes are free: about room / share of them,
        oldest first, so a thousand waiting writers are not all woken for one message.
        Each is granted a turn of ``share`` bytes, its room reserved until it first
        sends: while turns are waited for or under way, only a writer with a turn left
        takes room, and no more than that (fair by bytes, not by calls)."""
        self._expire(now)
        room -= self.reserved
        share = min(share, MAX_TURN)
        woken: list[int] = []
        waiting = self._waiting
        while waiting and room > 0:
            ch = waiting[0]
            # One that was put back at the front keeps what is left of its turn.
            turn = ch.allowance or share
            if turn > room and (woken or self.data_bytes) and not ch.dead:
                break  # only whole turns, else the last one woken finds no room
            waiting.popleft()
            ch.waiting = False
            if not ch.dead:
                ch.allowance = ch.holds = turn
                room -= turn
                self.reserved += turn
                self._granted[ch.id] = (now, ch)
                woken.append(ch.id)
        return woken

    @property
    def contended(self) -> bool:
        """Writers wait for turns, or turns are under way: no writer without a turn may
        take room (it would cut in line)."""
        return bool(self._waiting or self._granted)

    def use_turn(self, ch: ChannelState, n: int) -> None:
        """``ch`` queued ``n`` bytes: they come out of its turn, if it has one.

        Its first send ends the reservation: the room it did not take goes to the next
        writers woken.  Held until the turn was used up, a turn whose source had less to
        send than the turn (a socket with 20 KiB waiting, a trickle) kept the room from
        everyone for GRANT_TTL; and woken writers' reads arrive a loop turn later, so the
        room cannot simply be freed whenever the queue runs empty either (that handed
        out each turn twice, and half the writers woken found the buffer full)."""
        ch.allowance -= min(n, ch.allowance)
        if ch.holds:
            self.reserved -= ch.holds
            ch.holds = 0
        if not ch.allowance:
            self._granted.pop(ch.id, None)

    def _release(self, ch: ChannelState) -> None:
        if self._granted.pop(ch.id, None) is not None:
            self.reserved -= ch.holds
            ch.holds = 0

    def _expire(self, now: float) -> None:
        """A turn's room is held GRANT_TTL at most: counting the turns handed out and
        not yet used keeps a burst of wakes (one per message written) from handing out
        more turns than there is room, and keeps writers without a turn from taking the
        room of those woken (readers served first by the event loop took it, and the
        last writers woken found the buffer full, again and again: the same few
        streams at half the median).  After that the room is no longer held: a writer
        that never uses its turn cannot keep it from the others.  Expired by time
        only: freeing every turn whenever the queue ran empty (the link had sent all
        before the woken writers read) handed each turn out twice."""
        granted = self._granted
        while granted:
            cid, (when, ch) = next(iter(granted.items()))
            if now - when < GRANT_TTL:
                break
            del granted[cid]
            self.reserved -= ch.holds
            ch.holds = 0

    # ------------------------------------------------------------------ building
    def next_message(self, limit: int, max_frame: int) -> bytes | None:
        """The next WebSocket message of at most ``limit`` bytes, or None when idle.

        ``limit`` and ``max_frame`` are the peer's max_message and max_frame.  Messages
        are packed one byte under ``limit``: aiohttp (wsnet 0.1.0's receiver) refuses a
        message of exactly its max_msg_size, though the limit is inclusive; only a frame
        that needs the whole of it (a max_frame datagram to a peer whose max_message is
        max_frame + 10) is sent alone at exactly ``limit``.
        """
        taken = self.next_parts(limit, max_frame)
        return None if taken is None else b"".join(taken[0])

    def next_parts(self, limit: int, max_frame: int) -> tuple[list[bytes | memoryview], int] | None:
        """As next_message, uncopied: the message's pieces (frame headers and views of the
        queued payloads) and its size, for a vectored write.  The pieces are immutable."""
        parts: list[bytes | memoryview] = []
        size = 0
        if self._ctrl or self._pong or self._ping or self._routes or self._windows:
            size = self._control_frames(parts, limit - 1)
        if self._ring:
            size = self._data_frames(parts, size, limit - 1, max_frame)
        if not parts:
            return None
        self.bytes_out += size
        return parts, size

    def _control_frames(self, parts: list[bytes | memoryview], limit: int) -> int:
        size = 0
        ctrl = self._ctrl
        while ctrl and (not size or size + len(ctrl[0]) <= limit):
            frame = ctrl.popleft()
            parts.append(frame)
            size += len(frame)
            self.ctrl_bytes -= len(frame)
        if ctrl:
            return limit  # the rest goes first in the next message
        for attr, ftype in (("_pong", FrameType.PONG), ("_ping", FrameType.PING),
                            ("_routes", FrameType.ROUTES)):  # fmt: skip
            payload: bytes = getattr(self, attr)
            if payload and size + HEADER_SIZE + len(payload) <= limit:
                parts.append(encode_header(ftype, 0, 0, len(payload)) + payload)
                size += HEADER_SIZE + len(payload)
                setattr(self, attr, b"")
        windows = self._windows
        while windows and size + _WINDOW_FRAME <= limit:
            _, ch = windows.popitem()
            increment, ch.win_pending = ch.win_pending, 0
            if increment:
                parts.append(encode_header(FrameType.WINDOW, 0, ch.id, 4) + m.encode_u32(increment))
                size += _WINDOW_FRAME
        return size

    def _data_frames(
        self, parts: list[bytes | memoryview], size: int, limit: int, max_frame: int
    ) -> int:
        ring = self._ring
        while ring and size + HEADER_SIZE < limit:
            ch = ring[0]
            if ch.dead or not (ch.queued or ch.fin_queued or ch.reset_after):
                ring.popleft()
                ch.in_ring = False
                continue
            room = limit - size - HEADER_SIZE
            if not (ch.queued or ch.fin_queued):
                if len(ch.reset_after) > room:
                    break
                size += self._reset_frame(ch, parts)
            elif ch.stream:
                turn = max_frame if len(ring) == 1 else min(QUANTUM, max_frame)
                size += self._stream_frame(ch, parts, min(room, turn))
            else:
                assert ch.out is not None
                if len(ch.out[0]) > room and (size or len(ch.out[0]) > room + 1):
                    break  # a datagram is never cut: it starts the next message
                size += self._datagram_frame(ch, parts)
            if ch.queued or ch.fin_queued or ch.reset_after:
                ring.rotate(-1)  # its turn is over: to the back of the ring
            else:
                ring.popleft()
                ch.in_ring = False
                ch.out = None
        return size

    def _stream_frame(self, ch: ChannelState, parts: list[bytes | memoryview], most: int) -> int:
        n = min(ch.queued, most)
        payload = _take(ch.out, n) if n and ch.out is not None else []
        ch.queued -= n
        self.data_bytes -= n
        flags = 0
        if ch.fin_queued and not ch.queued:
            flags = Flag.FIN
            ch.fin_queued = False
        parts.append(encode_header(FrameType.DATA, flags, ch.id, n))
        parts.extend(payload)
        return HEADER_SIZE + n

    def _reset_frame(self, ch: ChannelState, parts: list[bytes | memoryview]) -> int:
        payload, ch.reset_after = ch.reset_after, b""
        ch.dead = True
        parts.append(encode_header(FrameType.RESET, 0, ch.id, len(payload)) + payload)
        return HEADER_SIZE + len(payload)

    def _datagram_frame(self, ch: ChannelState, parts: list[bytes | memoryview]) -> int:
        assert ch.out is not None  # a datagram channel in the ring has one queued
        payload = ch.out.popleft()
        n = len(payload)
        ch.queued -= n
        self.data_bytes -= n
        parts.append(encode_header(FrameType.DATA, 0, ch.id, n))
        parts.append(payload)
        return HEADER_SIZE + n


def detached(data: bytes | memoryview) -> bytes | memoryview:
    """``data``, copied out of its message when it is a view of a small part of it."""
    if isinstance(data, memoryview):
        base = data.obj
        if isinstance(base, bytes | bytearray) and len(data) * 2 < len(base):
            return bytes(data)
    return data


def _take(out: deque[bytes | memoryview], n: int) -> list[bytes | memoryview]:
    """The first ``n`` bytes of ``out`` as pieces (views, no copy); ``out`` keeps the rest."""
    pieces: list[bytes | memoryview] = []
    while n:
        head = out[0]
        if len(head) <= n:
            pieces.append(out.popleft())
            n -= len(head)
        else:
            view = memoryview(head)
            pieces.append(view[:n])
            out[0] = view[n:]
            n = 0
    return pieces
