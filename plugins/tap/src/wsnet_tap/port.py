"""A TAP device as a switch port: frames in through the event loop's reader, out by write().

The fd is non-blocking and registered with the loop (add_reader), so one node
serves many TAPs without a thread per device or per packet.  A full TAP queue
drops the frame and counts it, exactly as a switch port with a full queue would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytun

from wsnet import Port

from .options import interface_exists, parse_address, parse_mtu, parse_options, validate_ifname

READ_BATCH = 64  # frames taken per wake-up: fair to other fds, few loop iterations
VNET_HDR_LEN = 10  # struct virtio_net_hdr, in front of each frame with IFF_VNET_HDR
READ_SIZE = VNET_HDR_LEN + 65536 + 18  # the largest frame a TAP can hand us, header and tags
# linux/if_tun.h: which offloads we accept on read.  Checksum + TSO4/6: the kernel then
# hands us TCP super-frames of up to 64 KiB with a pending checksum instead of
# MTU-sized frames, and the switch carries them whole (or segments them for a plain port).
TUNSETOFFLOAD = 0x400454D0
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04


class TapPort(Port):
    kind: ClassVar[str] = "tap"
    registry: ClassVar[dict[str, TapPort]] = {}  # set per node by the plugin

    def __init__(
        self, name: str, options: Mapping[str, Any], deliver: Callable[[memoryview], None]
    ) -> None:
        super().__init__(name, options, deliver)
        self.opts = parse_options(options)
        self.dev: Any = None
        self.fd = -1
        self.rx_errors = 0
        self.tx_drops = 0
        self.oversize = 0
        self.max_len = 0  # largest frame send() passes on: MTU + Ethernet header + VLAN tag

    @classmethod
    def check_options(cls, name: str, options: Mapping[str, Any]) -> None:
        """Before the node starts: the name and options of a [[switch.port]] entry."""
        problem = validate_ifname(name)
        if problem:
            raise ValueError(problem)
        parse_options(options)

    async def start(self) -> None:
        problem = validate_ifname(self.name)
        if problem:
            raise ValueError(problem)
        if interface_exists(self.name):
            raise ValueError(f"an interface named {self.name!r} already exists")
        if self.name in self.registry:
            raise ValueError(f"TAP {self.name!r} is already a port")
        flags = pytun.IFF_TAP | pytun.IFF_NO_PI
        if self.opts.offload:
            flags |= pytun.IFF_VNET_HDR
        self.dev = pytun.TunTapDevice(name=self.name, flags=flags)
        try:
            self.fd = self.dev.fileno()
            os.set_blocking(self.fd, False)
            if self.opts.offload:
                fcntl.ioctl(self.fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
                self.vnet_hdr = True
            self.dev.mtu = self.opts.mtu
            self._set_max_len(self.opts.mtu)
            if self.opts.mac:
                self.dev.hwaddr = bytes.fromhex(self.opts.mac.replace(":", ""))
            self.dev.up()
            if self.opts.address:
                await set_address(self.name, self.opts.address)
            asyncio.get_running_loop().add_reader(self.fd, self._readable)
        except BaseException:
            self._close_device()
            raise
        self.registry[self.name] = self

    def _readable(self) -> None:
        deliver = self.deliver
        for _ in range(READ_BATCH):
            try:
                frame = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:  # the device is gone or broken: stop polling, or the loop spins
                self.rx_errors += 1
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_reader(self.fd)
                return
            deliver(memoryview(frame))

    def _set_max_len(self, mtu: int) -> None:
        self.max_len = mtu + 18 + (VNET_HDR_LEN if self.vnet_hdr else 0)

    def send(self, frame: memoryview) -> bool:
        # A TAP takes any frame written to it, MTU or not; a switch port must not pass
        # giants on.  Super-frames (GSO type set) are meant to be big: the kernel cuts them.
        size = len(frame)
        if size > self.max_len and not (self.vnet_hdr and frame[1]) and self._oversize(size):
            return False
        try:
            os.write(self.fd, frame)
        except OSError:  # EAGAIN: queue full; EINVAL: bigger than the MTU; EIO: device down
            self.tx_drops += 1
            return False
        return True

    def _oversize(self, size: int) -> bool:
        """Count a giant, unless the MTU was raised behind our back (``ip link``)."""
        mtu = read_sys(self.name, "mtu")  # absent when the TAP was moved to another netns
        if mtu.isdigit():
            self._set_max_len(int(mtu))
        if size <= self.max_len:
            return False
        self.oversize += 1
        self.tx_drops += 1
        return True

    async def aclose(self) -> None:
        self.registry.pop(self.name, None)
        if self.fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.fd)
        self._close_device()

    def _close_device(self) -> None:
        # Closing the fd of a non-persistent TAP deletes the interface.
        if self.dev is not None:
            with contextlib.suppress(OSError):
                self.dev.close()
            self.dev = None
            self.fd = -1

    async def setif(self, address: str = "", mtu: Any = None) -> None:
        if mtu is not None:
            self.dev.mtu = parse_mtu(mtu)
            self._set_max_len(self.dev.mtu)
        if address:
            parse_address(address)
            await set_address(self.name, address)

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "state": "closed" if self.dev is None else "error" if self.rx_errors else "up",
            "drops": self.tx_drops,
            "oversize": self.oversize,
            "offload": self.vnet_hdr,
        }

    def interface(self) -> dict[str, Any]:
        """What `listif` shows: name, MAC, MTU, addresses (as the kernel has them)."""
        return {
            "name": self.name,
            "mac": read_sys(self.name, "address"),
            "mtu": int(read_sys(self.name, "mtu") or 0),
            "addresses": addresses(self.name),
        }


async def set_address(ifname: str, address: str) -> None:
    """``ip addr replace``: IPv4 and IPv6 alike, idempotent for the same address."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "addr", "replace", address, "dev", ifname,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    if proc.returncode != 0:
        raise ValueError(f"cannot set address {address} on {ifname}: {err.decode().strip()}")


def read_sys(ifname: str, attr: str) -> str:
    try:
        with open(f"/sys/class/net/{ifname}/{attr}") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def addresses(ifname: str) -> list[str]:
    res = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", ifname], capture_output=True, text=True, timeout=10
    )
    out = []
    for line in res.stdout.splitlines():
        words = line.split()
        if len(words) > 3 and words[2] in ("inet", "inet6") and not words[3].startswith("fe80"):
            out.append(words[3])
    return out
