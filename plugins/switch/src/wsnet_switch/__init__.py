"""wsnet-switch (entry point ``switch``): the learning Ethernet switch of a node.

Forwarding database, engine, link ports.
Protocol-free and I/O-free where it can be (fdb, engine), so forwarding rules are
tested with plain calls; ``l2`` binds the engine to node links and plugin ports.
"""

from .engine import Switch, SwitchPort
from .fdb import Fdb

__all__ = ["Fdb", "Switch", "SwitchPort"]
