"""An existing interface as a switch port, through an AF_PACKET socket in promiscuous mode.

The socket sees every frame of the interface, including the ones it sends
itself (PACKET_OUTGOING); those are skipped, or the switch would learn its own
egress and loop.  With PACKET_VNET_HDR (option ``offload``, on by default) each
frame carries a virtio-net header both ways: the GRO/TSO super-frames the kernel
hands a packet socket (larger than the MTU, checksum pending) then cross the
switch whole and are segmented where they leave, instead of being unusable.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from wsnet import Port

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23  # Linux 4.20+: the kernel skips our own frames for us
READ_BATCH = 64
READ_SIZE = 10 + 65536 + 18  # virtio-net header + the largest super-frame with tags


def parse_bool(value: Any) -> bool:
    """A TOML boolean or a word from `wsnet ctl addport netdev veth0 offload=off`."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else ""  # TOML 1 is no boolean
    if word in ("true", "on", "yes", "1"):
        return True
    if word in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"option 'offload': expected true or false, got {value!r}")


def parse_options(options: Mapping[str, Any]) -> bool:
    """The ``offload`` option (the only one); ValueError names what is wrong."""
    unknown = sorted(set(options) - {"offload"})
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (netdev takes: offload)")
    return parse_bool(options.get("offload", True))


def ifindex(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise ValueError(f"no interface named {name!r}") from None


class NetdevPort(Port):
    kind: ClassVar[str] = "netdev"

    @classmethod
    def check_options(cls, name: str, options: Mapping[str, Any]) -> None:
        """Before the node starts: the interface exists and the options are known."""
        ifindex(name)
        parse_options(options)

    def __init__(
        self, name: str, options: Mapping[str, Any], deliver: Callable[[memoryview], None]
    ) -> None:
        super().__init__(name, options, deliver)
        self.offload = parse_options(options)
        self.sock: socket.socket | None = None
        self.tx_drops = 0
        self.error = ""

    async def start(self) -> None:
        index = ifindex(self.name)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            sock.bind((self.name, ETH_P_ALL))
            mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            if self.offload:
                sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
                self.vnet_hdr = True
            sock.setblocking(False)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def _readable(self) -> None:
        assert self.sock is not None
        recv = self.sock.recvfrom
        for _ in range(READ_BATCH):
            try:
                frame, addr = recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:  # the interface went away: stop polling, delport cleans up
                self._stop_reading(exc)
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            self.deliver(memoryview(frame))

    def _stop_reading(self, exc: OSError) -> None:
        # A socket in error stays readable: without this the loop would spin on it.
        self.error = exc.strerror or str(exc)
        if self.sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())

    def send(self, frame: memoryview) -> bool:
        if self.sock is None:
            return False
        try:
            self.sock.send(frame)
        except OSError:  # EAGAIN (queue full), EMSGSIZE (above MTU), ENETDOWN
            self.tx_drops += 1
            return False
        return True

    async def aclose(self) -> None:
        # Closing the socket also drops its promiscuous membership.
        if self.sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def info(self) -> dict[str, Any]:
        state = Path(f"/sys/class/net/{self.name}/operstate")
        return {
            "kind": self.kind,
            "name": self.name,
            "state": f"error: {self.error}"
            if self.error
            else (state.read_text().strip() if state.exists() else "gone"),
            "drops": self.tx_drops,
        }
