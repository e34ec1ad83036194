"""Translate a tcp-over-websocket config.json into a wsnet TOML config (pure, no I/O).

tcp-over-websocket has one server and clients 1 and 2; each side lists
``tcpTunnelListens`` (listenBindAddress, listenPort, tunnelName) and
``tcpTunnelConnects`` (connectToHost, connectToPort, tunnelName).  In wsnet:
- the server is node ``server``; it listens for links at serverUrl's host and port,
  and its listen tunnels go to the HA group ``clients`` (members client1, client2,
  promote_on_activity and standby_close as tcp-over-websocket behaves);
- client N is node ``clientN``; it dials serverUrl (ws:// for http://, wss:// for
  https://) and its listen tunnels go to ``server``;
- connect tunnels keep host and port.
Settings with no meaning in wsnet (logging, Windows service) are listed as comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

GROUP = "clients"
STANDBY_CLOSE_DEFAULT = 30  # tcp-over-websocket's standbySocketCloseDurationSecs default
_IGNORED = ("logging",)


class MigrateError(ValueError):
    pass


def from_tcp_over_websocket(cfg: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(wsnet config as nested dicts, notes on what was not translated)."""
    exchange = _table(cfg, "dataExchange")
    url = urlsplit(str(exchange.get("serverUrl", "http://localhost:8080")))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise MigrateError(f"dataExchange.serverUrl: expected http(s)://HOST:PORT, got {url!r}")
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    notes = [f"not translated: {k}" for k in _IGNORED if k in cfg]
    if exchange.get("enableMutualTLS"):
        notes.append("enableMutualTLS: use the wsnet-mtls plugin, see docs/security.md")
    tunnels = [*_listens(cfg, "server" if not cfg.get("weAreServer") else GROUP),
               *_connects(cfg)]  # fmt: skip
    out: dict[str, Any] = {}
    if cfg.get("weAreServer"):
        out["node"] = {"name": "server", "plugins": ["tcp", "ha"]}
        out["listen"] = {"host": url.hostname, "port": port}
        if tls and exchange.get("tlsBundleFilePath"):
            bundle = str(exchange["tlsBundleFilePath"])
            out["listen"].update(tls_cert=bundle, tls_key=bundle)  # one PEM holds both
        close = cfg.get("standbySocketCloseDurationSecs", STANDBY_CLOSE_DEFAULT)
        out["ha"] = {"group": [{"name": GROUP, "members": ["client1", "client2"],
                                "promote_on_activity": True, "standby_close": close}]}  # fmt: skip
    else:
        client = cfg.get("clientId", 1)
        if client not in (1, 2):
            raise MigrateError(f"clientId: expected 1 or 2, got {client!r}")
        out["node"] = {"name": f"client{client}", "plugins": ["tcp", "ha"]}
        out["listen"] = {"enabled": False}
        scheme = "wss" if tls else "ws"
        out["dial"] = [{"url": f"{scheme}://{url.hostname}:{port}/wsnet"}]
    out["tcp"] = {"tunnel": tunnels}
    return out, notes


def _table(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = cfg.get(key, {})
    if not isinstance(value, Mapping):
        raise MigrateError(f"{key}: expected an object, got {value!r}")
    return value


def _entries(cfg: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = cfg.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise MigrateError(f"{key}: expected a list of objects")
    for i, entry in enumerate(value):
        if not isinstance(entry.get("tunnelName"), str):
            raise MigrateError(f"{key}[{i}].tunnelName: missing")
    return value


def _listens(cfg: Mapping[str, Any], peer: str) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(_entries(cfg, "tcpTunnelListens")):
        port = e.get("listenPort")
        if not isinstance(port, int):
            raise MigrateError(f"tcpTunnelListens[{i}].listenPort: expected a number")
        host = str(e.get("listenBindAddress", "0.0.0.0"))
        out.append({"name": e["tunnelName"], "listen": _hostport(host, port), "peer": peer})
    return out


def _connects(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(_entries(cfg, "tcpTunnelConnects")):
        host, port = e.get("connectToHost"), e.get("connectToPort")
        if not isinstance(host, str) or not isinstance(port, int):
            raise MigrateError(f"tcpTunnelConnects[{i}]: needs connectToHost and connectToPort")
        out.append({"name": e["tunnelName"], "connect": _hostport(host, port)})
    return out


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
