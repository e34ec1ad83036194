"""virtio-net header handling: checksum completion and software TSO, against slow references."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsnet_switch import Switch, SwitchPort
from wsnet_switch.vnet import (
    GSO_TCPV4,
    GSO_TCPV6,
    NEEDS_CSUM,
    VNET_HDR_LEN,
    ZERO_HDR,
    VnetError,
    checksum,
    plain_frames,
)

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SRC6, DST6 = bytes(15) + b"\x01", bytes(15) + b"\x02"


def ref_sum(data: bytes) -> int:
    """The RFC 1071 word loop, the slow obvious way."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def valid(data: bytes) -> bool:
    """A block that includes its own checksum sums to 0xFFFF (ones' complement zero)."""
    return ref_sum(data) in (0xFFFF, 0)


def hdr(flags: int, gso_type: int, gso_size: int = 0, start: int = 0, offset: int = 0) -> bytes:
    return struct.pack("<BBHHHH", flags, gso_type, 0, gso_size, start, offset)


def tcp_header(seq: int, flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", 40000, 5201, seq, 7, 5 << 4, flags, 512, 0, 0)


def v4_frame(payload: bytes, seq: int = 1000, flags: int = 0x18, vlan: bool = False) -> bytes:
    tcp = tcp_header(seq, flags)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0x1234, 0x4000,
                     64, 6, 0, SRC4, DST4)  # fmt: skip
    eth = MAC_B + MAC_A + (b"\x81\x00\x00\x05" if vlan else b"") + b"\x08\x00"
    return eth + ip + tcp + payload


def v6_frame(payload: bytes, seq: int = 1000, flags: int = 0x18) -> bytes:
    tcp = tcp_header(seq, flags)
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp) + len(payload), 6, 64, SRC6, DST6)
    return MAC_B + MAC_A + b"\x86\xdd" + ip + tcp + payload


def check_v4(frame: bytes, eth: int = 14) -> tuple[int, int, int, bytes]:
    """Assert both checksums; return (ip id, seq, tcp flags, payload)."""
    ip = frame[eth : eth + 20]
    assert valid(ip)
    total = int.from_bytes(ip[2:4], "big")
    assert total == len(frame) - eth
    seg = frame[eth + 20 :]
    pseudo = SRC4 + DST4 + b"\0\x06" + len(seg).to_bytes(2, "big")
    assert valid(pseudo + seg)
    return int.from_bytes(ip[4:6], "big"), int.from_bytes(seg[4:8], "big"), seg[13], seg[20:]


@given(size=st.integers(1, 9000), mss=st.integers(536, 1460), vlan=st.booleans())
@settings(max_examples=60, deadline=None)
def test_tso_v4_segments_add_up(size: int, mss: int, vlan: bool) -> None:
    payload = bytes(i * 7 % 251 for i in range(size))
    flags = 0x80 | 0x18 | 0x01  # CWR, PSH+ACK, FIN
    packet = hdr(NEEDS_CSUM, GSO_TCPV4, mss) + v4_frame(payload, seq=0xFFFFFF00, flags=flags,
                                                        vlan=vlan)  # fmt: skip
    frames = [bytes(f) for f in plain_frames(memoryview(packet))]
    assert len(frames) == -(-size // mss)
    parts = [check_v4(f, 18 if vlan else 14) for f in frames]
    assert b"".join(p[3] for p in parts) == payload
    for i, (ident, seq, fl, data) in enumerate(parts):
        assert ident == (0x1234 + i) & 0xFFFF
        assert seq == (0xFFFFFF00 + i * mss) & 0xFFFFFFFF  # wraps like TCP does
        assert len(data) <= mss
        last, first = i == len(parts) - 1, i == 0
        assert bool(fl & 0x01) == last and bool(fl & 0x08) == last  # FIN, PSH: last only
        assert bool(fl & 0x80) == first  # CWR: first only
        assert fl & 0x10  # ACK everywhere


def test_tso_v6() -> None:
    payload = bytes(range(256)) * 20
    packet = hdr(NEEDS_CSUM, GSO_TCPV6, 1000) + v6_frame(payload)
    frames = [bytes(f) for f in plain_frames(memoryview(packet))]
    assert len(frames) == 6
    out = b""
    for f in frames:
        seg = f[54:]
        assert int.from_bytes(f[18:20], "big") == len(seg)
        pseudo = SRC6 + DST6 + len(seg).to_bytes(4, "big") + b"\0\0\0\x06"
        assert valid(pseudo + seg)
        out += seg[20:]
    assert out == payload


def test_pending_checksum_is_completed() -> None:
    payload = b"hello, partial checksum!"
    frame = bytearray(v4_frame(payload))
    ip = frame[14:34]
    frame[24:26] = checksum(ip).to_bytes(2, "big")  # the kernel fills the IP one itself
    seg_len = len(frame) - 34
    seed = ref_sum(SRC4 + DST4 + b"\0\x06" + seg_len.to_bytes(2, "big"))
    frame[34 + 16 : 34 + 18] = seed.to_bytes(2, "big")  # what CHECKSUM_PARTIAL leaves
    packet = hdr(NEEDS_CSUM, 0, 0, start=34, offset=16) + bytes(frame)
    (out,) = plain_frames(memoryview(packet))
    assert check_v4(bytes(out))[3] == payload


def test_plain_frame_passes_without_copy() -> None:
    frame = v4_frame(b"x")
    packet = memoryview(ZERO_HDR + frame)
    (out,) = plain_frames(packet)
    assert isinstance(out, memoryview) and out.obj is packet.obj
    assert bytes(out) == frame


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"\0" * 5, "shorter than a virtio-net header"),
        (hdr(NEEDS_CSUM, 3, 1400) + v4_frame(b"u"), "unsupported GSO type 3"),
        (hdr(NEEDS_CSUM, GSO_TCPV4, 1400) + MAC_B + MAC_A + b"\x08\x06" + b"\0" * 28,
         "ethertype 0x0806"),
        (hdr(NEEDS_CSUM, GSO_TCPV4, 1400) + v4_frame(b"p")[:40], "truncated TCP header"),
        (hdr(NEEDS_CSUM, GSO_TCPV4, 0) + v4_frame(b"p" * 10), "bad TSO segment size 0"),
        (hdr(NEEDS_CSUM, 0, 0, start=60, offset=16) + v4_frame(b"q"), "outside a"),
    ],
)  # fmt: skip
def test_what_cannot_be_done_is_an_error(packet: bytes, message: str) -> None:
    with pytest.raises(VnetError, match=message):
        plain_frames(memoryview(packet))


def test_switch_converts_between_offload_and_plain_ports() -> None:
    sent: dict[str, list[bytes]] = {"tap": [], "plain": []}
    sw = Switch()
    sw.add(SwitchPort("tap", "tap", lambda f: sent["tap"].append(bytes(f)) is None, vnet=True))
    sw.add(SwitchPort("plain", "netdev", lambda f: sent["plain"].append(bytes(f)) is None))
    big = hdr(NEEDS_CSUM, GSO_TCPV4, 1000) + v4_frame(b"z" * 3500)
    sw.ingress(sw.ports["tap"], memoryview(big))  # unknown destination: flooded to "plain"
    assert len(sent["plain"]) == 4  # cut into four MSS-sized frames
    assert sw.ports["plain"].tx_frames == 4
    reply = MAC_A + MAC_B + v4_frame(b"ack", flags=0x10)[12:]  # b -> a, a learnt on "tap"
    sw.ingress(sw.ports["plain"], memoryview(reply))
    assert sent["tap"] == [ZERO_HDR + reply]  # a plain frame gets a "nothing pending" header
    bad = hdr(NEEDS_CSUM, 3, 1000) + v4_frame(b"u")
    sw.ingress(sw.ports["tap"], memoryview(bad))
    assert sw.ports["plain"].drops == 1
    assert sw.ports["tap"].rx_bytes == len(big) + len(bad) - 2 * VNET_HDR_LEN
