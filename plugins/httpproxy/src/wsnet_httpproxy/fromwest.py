"""Translate west configs (github.com/tanupoo/west) into wsnet TOML configs (pure, no I/O).

A west config has four objects: ``west`` (``nm``: the node's origin name, ``cp``: control
port), ``wsts`` (``sp``: the WebSocket server URL it listens on), ``wstc`` (WebSocket server
URLs it dials, each with ``nm`` and ``ee``) and ``proxy`` (HTTP listeners, keyed by
``http://HOST:PORT``, each naming the far end by origin name (``en``) or by the far server's
URL (``ea``, which west also dials), with ``/PATH: {ou: URL}`` routes). In wsnet:
- one config is one node, named from ``nm`` (``ws://case1.G.fiap.org`` → ``case1.G.fiap.org``);
- ``sp`` is ``[listen]`` on the same host, port and path (so west's URLs keep working);
- ``wstc`` URLs and ``ea`` URLs are ``[[dial]]`` entries, with ``peer`` when the node at that
  URL is known;
- a proxy path is a ``[[httpproxy.listener.route]]`` whose exit node is the far west; the far
  node's ``[httpproxy] targets`` gets the upstream (west's far end requests any ``ou``; wsnet
  requests only what the exit node allows).
``en`` and ``ea`` name other nodes, so all configs of a deployment are translated together
(or the missing ones given as ``peers``: origin name or server URL → node name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_OBJECTS = ("west", "wsts", "wstc", "proxy")
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]")


class MigrateError(ValueError):
    """A west config that cannot be translated; the message names the file and the key."""


@dataclass
class Translation:
    """One west config as a wsnet config (nested dicts for ``toml_dumps``) and notes on what
    was not translated."""

    name: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def node_name(origin: str) -> str:
    """wsnet node name for a west origin name: the host part (``ws://a.b:9802`` → ``a.b``)."""
    rest = origin.split("//", 1)[-1]  # also west's own sample typo ``ws//case1.G...``
    host = re.sub(r":\d+$", "", rest.split("/", 1)[0])
    name = _NAME_BAD.sub("-", host).strip("-.")[:63]
    if not name or not name[0].isalnum():
        raise MigrateError(f"west.nm: cannot make a node name of {origin!r}")
    return name


def ws_key(url: str) -> str:
    """A west server URL reduced to what identifies it: ``ws://HOST:PORT/PATH``."""
    u = urlsplit(url)
    if u.scheme not in ("ws", "wss") or not u.hostname:
        raise MigrateError(f"expected ws://HOST:PORT, got {url!r}")
    port = u.port or (443 if u.scheme == "wss" else 80)
    return f"{u.scheme}://{u.hostname}:{port}{u.path.rstrip('/') or '/'}"


def from_west(
    configs: Mapping[str, Mapping[str, Any]], peers: Mapping[str, str] | None = None
) -> list[Translation]:
    """Each config (label → parsed JSON, label usually the file name) as a wsnet node.

    ``peers`` maps origin names or server URLs of nodes not among ``configs`` to node names.
    Raises MigrateError naming the label and key when a config is malformed, two configs
    give the same node name, or ``en``/``ea`` names a node nobody describes.
    """
    names = {label: _name_of(label, cfg) for label, cfg in configs.items()}
    if len(set(names.values())) < len(names):
        raise MigrateError(f"two configs give the same node name: {sorted(names.values())}")
    directory = _Directory(configs, names, peers or {})
    out = {label: _base(label, cfg, names[label], directory) for label, cfg in configs.items()}
    by_node = {t.name: t for t in out.values()}
    for label, cfg in configs.items():
        _proxies(label, cfg, out[label], directory, by_node)
    return list(out.values())


class _Directory:
    """Who is who: origin names and server URLs → node names."""

    def __init__(
        self,
        configs: Mapping[str, Mapping[str, Any]],
        names: Mapping[str, str],
        peers: Mapping[str, str],
    ) -> None:
        self.origins: dict[str, str] = {}
        self.servers: dict[str, str] = {}
        for label, cfg in configs.items():
            self.origins[str(cfg["west"]["nm"])] = names[label]
            for entry in _table(label, cfg, "wstc").values():
                if isinstance(entry, Mapping) and "nm" in entry:
                    self.origins[str(entry["nm"])] = names[label]
            sp = _table(label, cfg, "wsts").get("sp")
            if sp:
                self.servers[_key(label, "wsts.sp", str(sp))] = names[label]
        for what, name in peers.items():
            if "://" in what and what.split("://", 1)[0] in ("ws", "wss"):
                self.servers[ws_key(what)] = name
            self.origins[what] = name

    def by_origin(self, origin: str) -> str | None:
        return self.origins.get(origin)

    def by_server(self, url: str) -> str | None:
        return self.servers.get(ws_key(url))


def _name_of(label: str, cfg: Mapping[str, Any]) -> str:
    if not isinstance(cfg, Mapping):
        raise MigrateError(f"{label}: expected a JSON object")
    unknown = sorted(set(cfg) - set(_OBJECTS))
    if unknown:
        raise MigrateError(
            f"{label}: {unknown[0]}: unknown object (west has {', '.join(_OBJECTS)})"
        )
    nm = _table(label, cfg, "west").get("nm")
    if not isinstance(nm, str) or not nm:
        raise MigrateError(f"{label}: west.nm: required (the node's origin name)")
    try:
        return node_name(nm)
    except MigrateError as exc:
        raise MigrateError(f"{label}: {exc}") from None


def _table(label: str, cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = cfg.get(key, {})
    if not isinstance(value, Mapping):
        raise MigrateError(f"{label}: {key}: expected an object, got {value!r}")
    return value


def _key(label: str, where: str, url: str) -> str:
    try:
        return ws_key(url)
    except MigrateError as exc:
        raise MigrateError(f"{label}: {where}: {exc}") from None


def _base(label: str, cfg: Mapping[str, Any], name: str, directory: _Directory) -> Translation:
    t = Translation(name, {"node": {"name": name, "plugins": ["httpproxy"]}})
    _control(cfg["west"], t)
    sp = _table(label, cfg, "wsts").get("sp")
    if sp:
        u = urlsplit(str(sp))
        t.data["listen"] = {"host": u.hostname, "port": u.port or 80, "path": u.path or "/"}
        if u.scheme == "wss":
            t.notes.append("wsts.sp is wss://: add [listen] tls_cert and tls_key")
    else:
        t.data["listen"] = {"enabled": False}
    if "ca" in _table(label, cfg, "wsts"):
        t.notes.append("wsts.ca (unimplemented in west) is not translated: use auth_htpasswd "
                       "or mtls and [authz] (docs/security.md)")  # fmt: skip
    for url, entry in _table(label, cfg, "wstc").items():
        entry = entry if isinstance(entry, Mapping) else {}
        if entry.get("ee") not in (None, "yes", "no"):
            raise MigrateError(f"{label}: wstc.{url}.ee: expected \"yes\" or \"no\", got "
                               f"{entry['ee']!r}")  # fmt: skip
        if entry.get("ee") == "no":
            t.notes.append(f"wstc.{url}.ee = no: wsnet keeps every link up from the start")
        _dial(label, f"wstc.{url}", str(url), t, directory)
    return t


def _control(west: Mapping[str, Any], t: Translation) -> None:
    cp = west.get("cp")
    if not cp:
        return
    host, _, port = str(cp).rpartition(":")
    if not port.isdigit():
        raise MigrateError(f"west.cp: expected [HOST]:PORT, got {cp!r}")
    t.data["control"] = {"host": host or "127.0.0.1", "port": int(port)}
    if not host:
        t.notes.append(f"west.cp {cp!r} listened on every address; the control API here "
                       "listens on 127.0.0.1 (see [control] allow_remote)")  # fmt: skip


def _dial(label: str, where: str, url: str, t: Translation, directory: _Directory) -> str | None:
    key = _key(label, where, url)
    peer = directory.by_server(url)
    dials: list[dict[str, Any]] = t.data.setdefault("dial", [])
    if not any(ws_key(d["url"]) == key for d in dials):
        dials.append({"url": url, **({"peer": peer} if peer else {})})
    return peer


def _proxies(
    label: str,
    cfg: Mapping[str, Any],
    t: Translation,
    directory: _Directory,
    by_node: Mapping[str, Translation],
) -> None:
    for listen_url, proxy in _table(label, cfg, "proxy").items():
        where = f"proxy.{listen_url}"
        if not isinstance(proxy, Mapping):
            raise MigrateError(f"{label}: {where}: expected an object")
        exit_node = _exit_node(label, where, proxy, t, directory)
        routes = [_route(label, f"{where}.{p}", p, r, exit_node, by_node, t)
                  for p, r in proxy.items() if p.startswith("/")]  # fmt: skip
        unknown = sorted(k for k in proxy if not k.startswith("/") and k not in ("en", "ea"))
        if unknown:
            raise MigrateError(f"{label}: {where}.{unknown[0]}: unknown key (en, ea or /PATH)")
        t.data.setdefault("httpproxy", {}).setdefault("listener", []).append(
            {"listen": _listen(label, where, listen_url, t), "route": routes}
        )


def _exit_node(
    label: str, where: str, proxy: Mapping[str, Any], t: Translation, directory: _Directory
) -> str:
    if ("en" in proxy) == ("ea" in proxy):
        raise MigrateError(f"{label}: {where}: exactly one of en and ea is required")
    if "en" in proxy:
        node = directory.by_origin(str(proxy["en"]))
        hint = f"the node whose west.nm is {proxy['en']!r}"
    else:
        node = _dial(label, f"{where}.ea", str(proxy["ea"]), t, directory)
        hint = f"the node whose wsts.sp is {proxy['ea']!r}"
    if node is None:
        what = proxy.get("en", proxy.get("ea"))
        raise MigrateError(f"{label}: {where}.{'en' if 'en' in proxy else 'ea'}: no config given "
                           f"for {hint}: translate it together with this one, or pass "
                           f"--peer {what}=NODE")  # fmt: skip
    return node


def _listen(label: str, where: str, url: str, t: Translation) -> str:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname or not u.port:
        raise MigrateError(f"{label}: {where}: expected http://HOST:PORT, got {url!r}")
    if u.scheme == "https":
        t.notes.append(f"{where} is https://: add tls_cert and tls_key to its listener")
    return f"{u.hostname}:{u.port}"


def _route(
    label: str,
    where: str,
    path: str,
    route: Any,
    exit_node: str,
    by_node: Mapping[str, Translation],
    t: Translation,
) -> dict[str, Any]:
    if not isinstance(route, Mapping) or not isinstance(route.get("ou"), str):
        raise MigrateError(f"{label}: {where}.ou: required (the outgoing URL)")
    out: dict[str, Any] = {"path": path, "node": exit_node, "upstream": route["ou"]}
    ca = route.get("ca")
    if ca:
        out["allow"] = [str(c) for c in ca]
    up = urlsplit(route["ou"])
    target = f"{up.hostname}:{up.port or (443 if up.scheme == 'https' else 80)}"
    exit_t = by_node.get(exit_node)
    if exit_t is None:
        t.notes.append(f"{where}: add {target!r} to [httpproxy] targets on node {exit_node}")
    else:
        targets = exit_t.data.setdefault("httpproxy", {}).setdefault("targets", [])
        if target not in targets:
            targets.append(target)
    return out
