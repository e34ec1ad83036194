"""virtio-net headers: offload metadata that rides in front of an Ethernet frame.

A TAP opened with IFF_VNET_HDR and TUNSETOFFLOAD (and an AF_PACKET socket with
PACKET_VNET_HDR) hands over TCP super-frames of up to 64 KiB with a 10-byte
header saying "segment me at gso_size" and "the checksum is still to be done".
That is the big lever for L2 throughput: one read, one switch decision and one
link datagram per 64 KiB instead of per 1500 bytes.  Where such a frame must
leave by a port that cannot take the header (an old peer, a plain port), this
module does in Python what the kernel would have done: finish the checksum and
cut the TCP segment into MSS-sized frames.  Pure functions, no I/O.

Layout (struct virtio_net_hdr, little-endian as on every host we run on):
flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16.
"""

from __future__ import annotations

import struct

VNET_HDR_LEN = 10
NEEDS_CSUM = 0x01  # the checksum at csum_start+csum_offset is a pseudo-header seed only
DATA_VALID = 0x02  # the checksum was verified; the bytes are correct as they are
GSO_NONE = 0
GSO_TCPV4 = 1
GSO_TCPV6 = 4
GSO_ECN = 0x80
ZERO_HDR = bytes(VNET_HDR_LEN)  # "a plain frame": what a port without offloads produces

_HDR = struct.Struct("<BBHHHH")
_ETH_P_IPV4 = 0x0800
_ETH_P_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8)
_TCP = 6
_TCP_FIN, _TCP_PSH, _TCP_CWR = 0x01, 0x08, 0x80


class VnetError(ValueError):
    """A header or packet this module cannot turn into plain frames (counted as a drop)."""


def checksum_sum(data: bytes | bytearray | memoryview) -> int:
    """Ones' complement sum of ``data`` as 16-bit big-endian words, not yet inverted.

    2**16 is 1 modulo 0xFFFF, so the big integer of the bytes modulo 0xFFFF is
    the folded word sum: one C-speed operation instead of a Python loop.
    Returns 0..0xFFFE (0xFFFF, ones' complement "minus zero", comes out as 0).
    """
    raw = bytes(data)
    if len(raw) & 1:
        raw += b"\0"
    return int.from_bytes(raw, "big") % 0xFFFF


def checksum(*parts: bytes | bytearray | memoryview) -> int:
    """The Internet checksum over ``parts`` (each of even length but the last)."""
    total = 0
    for part in parts:
        total += checksum_sum(part)
    total %= 0xFFFF
    return (~total) & 0xFFFF  # never 0: 0xFFFF, valid for TCP and what UDP requires


def plain_frames(packet: memoryview) -> list[bytes | memoryview]:
    """The frames a plain port must send for ``packet`` (virtio header + frame).

    No offload pending: the frame itself, no copy.  A pending checksum: one frame
    with it filled in.  A TCP super-frame: one frame per ``gso_size`` of payload.
    Raises VnetError for what it cannot do (e.g. UDP segmentation offload, which
    wsnet never enables, or IPv6 extension headers under TSO).
    """
    if len(packet) < VNET_HDR_LEN:
        raise VnetError("shorter than a virtio-net header")
    flags, gso_type, _hdr_len, gso_size, csum_start, csum_offset = _HDR.unpack_from(packet)
    frame = packet[VNET_HDR_LEN:]
    kind = gso_type & ~GSO_ECN
    if kind == GSO_NONE:
        if not flags & NEEDS_CSUM:
            return [frame]
        return [fill_checksum(frame, csum_start, csum_offset)]
    if kind in (GSO_TCPV4, GSO_TCPV6):
        return segment_tcp(frame, gso_size)
    raise VnetError(f"unsupported GSO type {gso_type}")


def fill_checksum(frame: memoryview, start: int, offset: int) -> bytes:
    """Complete a partial checksum as the kernel's skb_checksum_help does."""
    where = start + offset
    if where + 2 > len(frame) or start >= len(frame):
        raise VnetError(f"checksum at {start}+{offset} lies outside a {len(frame)}-byte frame")
    out = bytearray(frame)
    # The field holds the pseudo-header sum; summing from csum_start includes it.
    value = checksum(out[start:])
    out[where : where + 2] = value.to_bytes(2, "big")
    return bytes(out)


def _l3_offset(frame: memoryview) -> tuple[int, int]:
    """(offset of the IP header, ethertype) after any VLAN tags."""
    off = 12
    for _ in range(2):  # at most QinQ: bounded, and deeper nesting is not ours to segment
        if len(frame) < off + 2:
            raise VnetError("truncated Ethernet header")
        etype = int.from_bytes(frame[off : off + 2], "big")
        if etype not in _VLAN_TAGS:
            return off + 2, etype
        off += 4
    raise VnetError("too many VLAN tags")


def segment_tcp(frame: memoryview, mss: int) -> list[bytes | memoryview]:
    """Cut a TCP super-frame into frames of at most ``mss`` payload bytes each."""
    ip, etype = _l3_offset(frame)
    if etype == _ETH_P_IPV4:
        v4 = True
        if len(frame) < ip + 20:
            raise VnetError("truncated IPv4 header")
        ihl = (frame[ip] & 0x0F) * 4
        proto = frame[ip + 9]
        tcp = ip + ihl
    elif etype == _ETH_P_IPV6:
        v4 = False
        if len(frame) < ip + 40:
            raise VnetError("truncated IPv6 header")
        proto = frame[ip + 6]
        tcp = ip + 40
    else:
        raise VnetError(f"TSO frame with ethertype {etype:#06x}")
    if proto != _TCP:
        raise VnetError(f"TSO frame carrying IP protocol {proto}, not TCP")
    if len(frame) < tcp + 20:
        raise VnetError("truncated TCP header")
    end = tcp + (frame[tcp + 12] >> 4) * 4
    payload = frame[end:]
    if mss <= 0 or len(frame) < end:
        raise VnetError(f"bad TSO segment size {mss} or header length {end}")
    if len(payload) <= mss:  # nothing to cut: one frame with its checksums done
        return [_build(frame, v4, (ip, tcp, end), payload, 0, 0, last=True)]
    count = -(-len(payload) // mss)
    offsets = (ip, tcp, end)
    out: list[bytes | memoryview] = []
    for i in range(count):
        chunk = payload[i * mss : (i + 1) * mss]
        out.append(_build(frame, v4, offsets, chunk, i, i * mss, last=i == count - 1))
    return out


def _build(
    frame: memoryview,
    v4: bool,
    offsets: tuple[int, int, int],
    chunk: memoryview,
    index: int,
    seq_advance: int,
    *,
    last: bool,
) -> bytes:
    """Segment number ``index``: the headers of ``frame`` adjusted to carry ``chunk``.

    ``offsets`` are those of the IP header, the TCP header and the payload.
    """
    ip, tcp, end = offsets
    h = bytearray(frame[:end])
    tcp_len = end - tcp + len(chunk)
    if v4:
        h[ip + 2 : ip + 4] = (tcp - ip + tcp_len).to_bytes(2, "big")
        ident = int.from_bytes(h[ip + 4 : ip + 6], "big")
        h[ip + 4 : ip + 6] = ((ident + index) & 0xFFFF).to_bytes(2, "big")  # as kernel GSO does
        h[ip + 10 : ip + 12] = b"\0\0"
        h[ip + 10 : ip + 12] = checksum(h[ip:tcp]).to_bytes(2, "big")
        pseudo = bytes(h[ip + 12 : ip + 20]) + bytes((0, _TCP)) + tcp_len.to_bytes(2, "big")
    else:
        h[ip + 4 : ip + 6] = tcp_len.to_bytes(2, "big")
        pseudo = bytes(h[ip + 8 : ip + 40]) + tcp_len.to_bytes(4, "big") + bytes((0, 0, 0, _TCP))
    seq = (int.from_bytes(h[tcp + 4 : tcp + 8], "big") + seq_advance) & 0xFFFFFFFF
    h[tcp + 4 : tcp + 8] = seq.to_bytes(4, "big")
    if not last:  # FIN and PSH belong to the last segment only, CWR to the first only
        h[tcp + 13] &= ~(_TCP_FIN | _TCP_PSH) & 0xFF
    if index:
        h[tcp + 13] &= ~_TCP_CWR & 0xFF
    h[tcp + 16 : tcp + 18] = b"\0\0"
    h[tcp + 16 : tcp + 18] = checksum(pseudo, h[tcp:end], chunk).to_bytes(2, "big")
    return bytes(h) + bytes(chunk)
