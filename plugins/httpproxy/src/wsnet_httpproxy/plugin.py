"""Hook implementations of wsnet-httpproxy: ``[httpproxy]`` config, the ``http`` service
(the exit side), the listeners (the entry side), control methods and ``wsnet http``."""

from __future__ import annotations

from wsnet import Config

from .settings import configure

# What wsnet_register_control_methods registers: a node without this plugin names it
# for a call of one of these (wsnet.plugins.method_providers).
CONTROL_METHODS = ("httproutes", "addhttproute", "delhttproute", "proxies")


def wsnet_configure(config: Config) -> None:
    configure(config)
