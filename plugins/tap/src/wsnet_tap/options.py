"""Validation of TAP port options, apart from any device I/O so it is testable as is.

Options arrive as TOML values from ``[[switch.port]]`` or as strings from
``wsnet ctl addport tap NAME mtu=1400``; both go through here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IFNAMSIZ = 16  # the kernel's limit, including the terminating NUL
_MAC_RE = re.compile(r"\A[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z")
KNOWN = ("mtu", "mac", "address", "offload")


@dataclass(frozen=True, slots=True)
class TapOptions:
    mtu: int = 1500
    mac: str = ""  # empty: the kernel picks a random locally administered address
    address: str = ""  # optional IP address with prefix, e.g. 10.0.0.1/24
    offload: bool = True  # IFF_VNET_HDR + TSO/checksum offload (64 KiB frames)


def validate_ifname(name: str) -> str:
    """'' if ``name`` can name a new interface, else why not."""
    if not name or len(name) >= IFNAMSIZ:
        return f"interface names are 1..{IFNAMSIZ - 1} characters, {name!r} has {len(name)}"
    if name in (".", "..") or any(c in name for c in "/: \t\n"):
        return f"{name!r} is not a valid interface name"
    return ""


def interface_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def parse_options(options: Mapping[str, Any]) -> TapOptions:
    """Typed options or ValueError naming the option."""
    unknown = sorted(set(options) - set(KNOWN))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (tap takes: {', '.join(KNOWN)})")
    mtu = parse_mtu(options.get("mtu", 1500))
    mac = str(options.get("mac", ""))
    if mac and (not _MAC_RE.match(mac) or int(mac[:2], 16) & 1):
        raise ValueError(
            f"option 'mac': expected a unicast MAC like 02:00:5e:00:00:01, got {mac!r}"
        )
    address = str(options.get("address", ""))
    if address:
        parse_address(address)
    offload = parse_bool("offload", options.get("offload", True))
    return TapOptions(mtu, mac.lower(), address, offload)


def parse_bool(key: str, value: Any) -> bool:
    """A TOML boolean, or the words `wsnet ctl addport tap t0 offload=off` may carry."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "on": True, "yes": True, "1": True,
             "false": False, "off": False, "no": False, "0": False}  # fmt: skip
    word = value.strip().lower() if isinstance(value, str) else None  # TOML 1 is no boolean
    if word not in words:
        raise ValueError(f"option {key!r}: expected true or false, got {value!r}")
    return words[word]


def parse_mtu(value: Any) -> int:
    """An integer, or its digits from `wsnet ctl`; a float (1500.5, nan, inf) is refused."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit():
        text = int(text)
    if not isinstance(text, int) or isinstance(text, bool):
        raise ValueError(f"option 'mtu': expected an integer, got {value!r}")
    mtu = text
    if not 68 <= mtu <= 65521:
        raise ValueError(f"option 'mtu': expected 68..65521, got {value!r}")
    return mtu


def parse_address(value: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if "/" not in value:
        raise ValueError(f"option 'address': expected ADDRESS/PREFIX, got {value!r}")
    try:
        return ipaddress.ip_interface(value)
    except ValueError as exc:
        raise ValueError(f"option 'address': {exc}") from None
