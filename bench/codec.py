"""Pure-Python cost of the sans-I/O protocol: no sockets, no event loop.

Two layers: the frame codec alone (encode_frame, decode_message) and a pair of
Sessions wired back to back, which adds credit accounting, message packing and
event objects: the ceiling a link could reach if the network were free.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from wsnet.protocol import (
    ChannelKind,
    ChannelRequested,
    DataReceived,
    FrameType,
    Session,
    decode_message,
    encode_frame,
)

from .results import MB, Result, best_of, timed_loop

SIZES = {"1k": 1024, "16k": 16 * 1024}
MAX_PAYLOAD = 1 << 20


def codec_rates(payload_size: int, min_seconds: float) -> tuple[float, float]:
    """(encode frames/s, decode frames/s) for one DATA frame of ``payload_size`` bytes."""
    payload = os.urandom(payload_size)
    message = encode_frame(FrameType.DATA, 0, 1, payload)

    def encode() -> object:
        return encode_frame(FrameType.DATA, 0, 1, payload)

    def decode() -> object:
        return decode_message(message, MAX_PAYLOAD)

    enc = timed_loop(encode, batch=2000, min_seconds=min_seconds, max_batches=100_000)
    dec = timed_loop(decode, batch=2000, min_seconds=min_seconds, max_batches=100_000)
    return enc, dec


def _pump(src: Session, dst: Session) -> list[object]:
    """Deliver everything ``src`` queued to ``dst``; the events ``dst`` produced."""
    events: list[object] = []
    for message in src.data_to_send():
        events.extend(dst.receive_message(message))
    return events


@dataclass
class SessionRun:
    bytes: int
    frames: int
    seconds: float

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / MB

    @property
    def frames_s(self) -> float:
        return self.frames / self.seconds


def connected_pair() -> tuple[Session, Session, int]:
    """Initiator and acceptor after HELLO, with one accepted stream channel."""
    a = Session(node="a", initiator=True)
    b = Session(node="b", initiator=False)
    _pump(a, b)
    _pump(b, a)
    if not (a.established and b.established):
        raise RuntimeError("sessions did not exchange HELLO")
    cid = a.open_channel(ChannelKind.STREAM, "sink")
    requested = [e for e in _pump(a, b) if isinstance(e, ChannelRequested)]
    if [e.channel for e in requested] != [cid]:
        raise RuntimeError(f"acceptor did not see OPEN for channel {cid}")
    b.accept(cid)
    _pump(b, a)
    return a, b, cid


def session_stream(total: int, write_size: int, max_seconds: float = 120.0) -> SessionRun:
    """Move ``total`` bytes a -> b through send_data/receive_message/consumed."""
    a, b, cid = connected_pair()
    block = memoryview(os.urandom(write_size))
    moved = frames = 0
    t0 = time.perf_counter()
    deadline = t0 + max_seconds
    # Each round sends until credit runs out, so the count is bounded by total/credit.
    while moved < total and time.perf_counter() < deadline:
        while moved + a.pending_bytes < total and a.send_data(cid, block) == len(block):
            pass
        for message in a.data_to_send():
            for ev in b.receive_message(message):
                if isinstance(ev, DataReceived):
                    n = len(ev.data)
                    moved += n
                    frames += 1
                    b.consumed(cid, n)
        _pump(b, a)  # WINDOW frames back to the sender
        a.writable()  # as a link does after sending: a writer that waited gets its turn
    seconds = time.perf_counter() - t0
    return SessionRun(moved, frames, seconds)


def run(repeat: int, quick: bool) -> list[Result]:
    min_seconds = 0.2 if quick else 1.0
    session_bytes = (16 if quick else 256) << 20
    results: list[Result] = []
    for label, size in SIZES.items():
        runs = [codec_rates(size, min_seconds) for _ in range(repeat)]
        results.append(best_of(f"codec.encode_frame.{label}", "frames/s", [r[0] for r in runs]))
        results.append(best_of(f"codec.decode_message.{label}", "frames/s", [r[1] for r in runs]))
    for label, write_size in (("16k", 16 * 1024), ("1m", 1 << 20)):
        s_runs = [session_stream(session_bytes, write_size) for _ in range(repeat)]
        # send_data splits writes into frames of the peer's max_frame (1 MiB by default).
        extra = {"bytes": session_bytes, "write_size": write_size, "max_frame": 1 << 20}
        results.append(
            best_of(f"codec.session.{label}", "MB/s", [r.mb_s for r in s_runs], extra=extra)
        )
        frames = [r.frames_s for r in s_runs]
        name = f"codec.session.{label}.frames"
        results.append(best_of(name, "frames/s", frames, extra=extra))
    return results
