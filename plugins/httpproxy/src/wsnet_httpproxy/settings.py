"""``[httpproxy]``, ``[[httpproxy.listener]]`` and ``[[httpproxy.listener.route]]``:
parsed with the core's Section getters, so every error names file, table and key."""

from __future__ import annotations

from dataclasses import dataclass, field

from wsnet import Allowlist, Config, Section, StashKey

from .spec import ListenerSpec, Route, SpecError, check_routes, make_route, parse_listen


@dataclass(frozen=True, slots=True)
class Settings:
    targets: Allowlist = field(default_factory=Allowlist)  # upstreams this exit node serves
    pool_size: int = 100  # upstream connections kept per exit node (all routes)
    max_head: int = 65536  # bytes of a request or response head carried over a channel
    request_timeout: float = 10.0  # a client's head must arrive within (listeners)
    max_pending: int = 1024  # listener connections whose first head has not arrived
    max_pending_per_source: int = 64  # ... from one address (IPv6: one /64)
    listeners: tuple[ListenerSpec, ...] = field(default_factory=tuple)


SETTINGS: StashKey[Settings] = StashKey("httpproxy.settings")


def configure(config: Config) -> None:
    s = config.section("httpproxy")
    try:
        targets = Allowlist.parse(s.get_str_list("targets", []))
    except ValueError as exc:  # "entry #2 '10.0.0.*': ... write 10.0.0.0/24"
        raise s.error("targets", str(exc)) from None
    pool = s.get_int("pool_size", 100, lo=1, hi=100000)
    max_head = s.get_int("max_head", 65536, lo=1024, hi=1 << 20)
    pending = (
        s.get_seconds("request_timeout", 10.0, hi=86400),
        s.get_int("max_pending", 1024, lo=1, hi=1 << 20),
        s.get_int("max_pending_per_source", 64, lo=1, hi=1 << 20),
    )
    listeners: list[ListenerSpec] = []
    for t in s.tables("listener"):
        t.path = "[[httpproxy.listener]]" + t.path.removeprefix("[[listener]]")
        listeners.append(_listener(t, listeners))
    s.done()
    config.stash[SETTINGS] = Settings(targets, pool, max_head, *pending, tuple(listeners))


def _listener(t: Section, before: list[ListenerSpec]) -> ListenerSpec:
    try:
        host, port = parse_listen(t.get_str("listen"))
    except SpecError as exc:
        raise t.error(exc.key, str(exc)) from None
    if any((b.host, b.port) == (host, port) for b in before):
        raise t.error("listen", f"a second listener on {host}:{port}")
    cert, key = t.get_str("tls_cert", ""), t.get_str("tls_key", "")
    if bool(cert) != bool(key):
        raise t.error("tls_key" if cert else "tls_cert", "tls_cert and tls_key go together")
    tables = t.tables("route")
    routes = []
    for r in tables:
        r.path = f"{t.path} {r.path}"  # [[httpproxy.listener]] #1 [[route]] #2
        routes.append(_route(r))
    t.done()
    names = {r.name for b in before for r in b.routes}
    for i in range(len(routes)):
        try:
            check_routes(routes[: i + 1], names)
        except SpecError as exc:
            raise tables[i].error(exc.key, str(exc)) from None
    return ListenerSpec(host, port, cert, key, tuple(routes))


def _route(r: Section) -> Route:
    keys = {k: r.get_str(k, "") for k in ("name", "host")}
    path, node, upstream = r.get_str("path"), r.get_str("node"), r.get_str("upstream")
    allow, deny = r.get_str_list("allow", []), r.get_str_list("deny", [])
    options = {
        "preserve_host": r.get_bool("preserve_host", False),
        "connect_timeout": r.get_seconds("connect_timeout", 10.0),
        "read_timeout": r.get_seconds("read_timeout", 60.0),
        "max_body": r.get_int("max_body", 0, lo=0),
        "auth": r.get_bool("auth", False),
        "tls_verify": r.get_bool("tls_verify", True),
    }
    r.done()
    try:
        return make_route(path, node, upstream, allow=allow, deny=deny, **keys, **options)
    except SpecError as exc:
        raise r.error(exc.key, str(exc)) from None
