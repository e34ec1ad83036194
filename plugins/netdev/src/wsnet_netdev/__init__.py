"""wsnet-netdev: an existing interface as a switch port (entry point ``netdev``)."""

from .port import NetdevPort

__all__ = ["NetdevPort"]
