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
TLS: the combined bundle (tlsBundleFilePath) becomes two files, CERTS_DIR/NODE-cert.pem
and NODE-key.pem (``split_plan`` says which; the command writes them, see bundle.py);
mutual TLS becomes the wsnet-mtls plugin on the server (its CA and pinned peers) and
ca_file/cert_file/key_file on the client's dial.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .bundle import common_names

GROUP = "clients"
STANDBY_CLOSE_DEFAULT = 30  # tcp-over-websocket's standbySocketCloseDurationSecs default
_IGNORED = ("logging",)
_KNOWN = {"dataExchange", "weAreServer", "clientId", "tcpTunnelListens", "tcpTunnelConnects",
          "standbySocketCloseDurationSecs", *_IGNORED}  # fmt: skip
CA_KEY = "mutualTLSTrustedCACertificateBundleFilePath"
PEER_KEY = "mutualTLSTrustedPeerCertificateBundleFilePath"
_EXCHANGE = {"serverUrl", "enableMutualTLS", "tlsBundleFilePath", CA_KEY, PEER_KEY}


class MigrateError(ValueError):
    pass


def node_name(cfg: Mapping[str, Any]) -> str:
    if cfg.get("weAreServer"):
        return "server"
    client = cfg.get("clientId", 1)
    if client not in (1, 2):
        raise MigrateError(f"clientId: expected 1 or 2, got {client!r}")
    return f"client{client}"


def split_plan(cfg: Mapping[str, Any], certs_dir: str) -> tuple[str, str, str] | None:
    """(bundle, certificate file, key file) when the config has a bundle to split, else None."""
    exchange = _table(cfg, "dataExchange")
    bundle = exchange.get("tlsBundleFilePath")
    if not isinstance(bundle, str) or not bundle or not _tls(exchange):
        return None
    name = node_name(cfg)
    return (bundle, posixpath.join(certs_dir, f"{name}-cert.pem"),
            posixpath.join(certs_dir, f"{name}-key.pem"))  # fmt: skip


def _tls(exchange: Mapping[str, Any]) -> bool:
    return str(exchange.get("serverUrl", "")).startswith("https:")


def from_tcp_over_websocket(
    cfg: Mapping[str, Any], certs_dir: str = "."
) -> tuple[dict[str, Any], list[str]]:
    """(wsnet config as nested dicts, notes on what was not translated)."""
    exchange = _table(cfg, "dataExchange")
    url = urlsplit(str(exchange.get("serverUrl", "http://localhost:8080")))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise MigrateError(f"dataExchange.serverUrl: expected http(s)://HOST:PORT, got {url!r}")
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    notes = [f"not translated: {k}" for k in _IGNORED if k in cfg]
    notes += [f"not translated (unknown to from-tow): {k}" for k in sorted(set(cfg) - _KNOWN)]
    notes += [f"not translated (unknown to from-tow): dataExchange.{k}"
              for k in sorted(set(exchange) - _EXCHANGE)]  # fmt: skip
    tunnels = [*_listens(cfg, "server" if not cfg.get("weAreServer") else GROUP),
               *_connects(cfg)]  # fmt: skip
    out: dict[str, Any] = {}
    if cfg.get("weAreServer"):
        out["node"] = {"name": "server", "plugins": ["tcp", "ha"]}
        out["listen"] = {"host": url.hostname, "port": port}
        plan = split_plan(cfg, certs_dir)
        if plan is not None:
            out["listen"].update(tls_cert=plan[1], tls_key=plan[2])
        close = cfg.get("standbySocketCloseDurationSecs", STANDBY_CLOSE_DEFAULT)
        out["ha"] = {"group": [{"name": GROUP, "members": ["client1", "client2"],
                                "promote_on_activity": True, "standby_close": close}]}  # fmt: skip
    else:
        out["node"] = {"name": node_name(cfg), "plugins": ["tcp", "ha"]}
        out["listen"] = {"enabled": False}
        scheme = "wss" if tls else "ws"
        out["dial"] = [{"url": f"{scheme}://{url.hostname}:{port}/wsnet"}]
    _mutual_tls(cfg, exchange, out, notes, certs_dir)
    out["tcp"] = {"tunnel": tunnels}
    return out, notes


def _mutual_tls(
    cfg: Mapping[str, Any], exchange: Mapping[str, Any], out: dict[str, Any],
    notes: list[str], certs_dir: str,
) -> None:  # fmt: skip
    """Server: wsnet-mtls with the CA and the pinned peers; client: its certificate and CA."""
    ca, peers = str(exchange.get(CA_KEY, "")), str(exchange.get(PEER_KEY, ""))
    server = bool(cfg.get("weAreServer"))
    if not exchange.get("enableMutualTLS"):
        notes += [f"not translated: dataExchange.{k} (enableMutualTLS is false)"
                  for k in (CA_KEY, PEER_KEY) if k in exchange]  # fmt: skip
        if _tls(exchange) and not server:
            notes.append("the client verifies the server against the system CAs: set "
                         "ca_file in [[dial]] for a private CA")  # fmt: skip
        return
    if not _tls(exchange):
        raise MigrateError("dataExchange.enableMutualTLS needs an https:// serverUrl")
    if not ca:
        raise MigrateError(f"dataExchange.{CA_KEY}: required with enableMutualTLS")
    plan = split_plan(cfg, certs_dir)
    if server:
        out["node"]["plugins"].append("mtls")
        out["mtls"] = {"ca_file": ca, **({"pinned": [peers]} if peers else {})}
        _claims(peers, out, notes)
        return
    if plan is None:
        raise MigrateError("dataExchange.tlsBundleFilePath: required with enableMutualTLS "
                           "(the client's certificate and key)")  # fmt: skip
    out["dial"][0].update(ca_file=ca, cert_file=plan[1], key_file=plan[2])
    if peers:
        notes.append(
            f"not translated: dataExchange.{PEER_KEY}: a wsnet client verifies the "
            "server against ca_file and the URL's host name, it does not pin it"
        )


def _claims(peers: str, out: dict[str, Any], notes: list[str]) -> None:
    """Let the pinned clients' certificates claim the client node names.

    A wsnet node may only call itself by its principal's name (an mTLS client: its
    certificate's CN) unless ``[authz]`` grants more (docs/security.md, "Trust model");
    tcp-over-websocket names its clients client1 and client2 whatever their certificates.
    """
    names = [f"client{i}" for i in (1, 2)]
    try:
        cns = common_names(Path(peers).read_text()) if peers else []
    except (OSError, ValueError):
        cns = None
    if cns:
        grant = {"claim": names, "open": ["*"]}
        out["authz"] = {"principal": {cn: dict(grant) for cn in dict.fromkeys(cns)}}
        return
    notes.append(
        "the clients' certificates must be allowed to claim their node names: add "
        '[authz.principal.CN] claim = ["client1", "client2"] and open = ["*"] for the CN of '
        "each client certificate (docs/security.md, Trust model)"
    )


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
