"""wsnet-tap: TAP devices as switch ports (entry point ``tap``)."""

from .options import TapOptions, parse_options, validate_ifname
from .port import TapPort

__all__ = ["TapOptions", "TapPort", "parse_options", "validate_ifname"]
