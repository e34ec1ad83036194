"""What a bridge is: its settings (``[[websockify.bridge]]`` or ``wsnet websockify``) and
the text forms of its addresses, checked once so that a bad one names its key."""

from __future__ import annotations

from dataclasses import dataclass

from wsnet import NODE_NAME_RE

WRAP_MODES = ("exit", "ignore", "respawn")


@dataclass(frozen=True, slots=True)
class Target:
    """``host:port``, reached from this node, or from ``node`` through the mesh."""

    host: str
    port: int
    node: str = ""

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.address + (f"@{self.node}" if self.node else "")


def parse_hostport(text: str, what: str = "address") -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; ValueError says what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT for the {what}, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, _port(port, text)


def _port(port: str, text: str) -> int:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port must be 1..65535 in {text!r}")
    return int(port)


def parse_target(text: str, node: str = "") -> Target:
    """``host:port[@node]``; ``node`` is the default node when the text names none."""
    addr, sep, at = text.strip().partition("@")
    if sep:
        if not NODE_NAME_RE.match(at):
            raise ValueError(f"bad node name {at!r} in {text!r}")
        node = at
    host, port = parse_hostport(addr, "target")
    return Target(host, port, node)


def parse_listen(text: str) -> tuple[str, int]:
    """websockify's ``[SOURCE_ADDR:]SOURCE_PORT``: no address means every interface."""
    text = text.strip()
    if ":" not in text:
        return "", _port(text, text)
    return parse_hostport(text, "listen address")


@dataclass(frozen=True)
class BridgeSpec:
    name: str
    host: str
    port: int
    target: Target | None = None
    node: str = ""  # for token targets that name no node
    token_plugin: str = ""
    token_source: str = ""
    host_token: bool = False
    web: str = ""
    cert: str = ""
    key: str = ""
    ssl_only: bool = False
    verify_client: bool = False
    cafile: str = ""
    origins: tuple[str, ...] = ()
    auth: bool = True
    heartbeat: float = 0.0
    idle_timeout: float = 0.0  # per connection: no bytes either way for this long
    session_timeout: float = 0.0  # per connection, in all
    record: str = ""
    wrap: tuple[str, ...] = ()
    wrap_mode: str = "exit"
    run_once: bool = False
    exit_idle: float = 0.0  # websockify's --idle-timeout: stop the node when unused
    exit_timeout: float = 0.0  # websockify's --timeout: stop unless connected by then
    # before trust (the upgrade done, or a file's request read), as [listen]'s keys
    handshake_timeout: float = 10.0
    max_pending: int = 1024
    max_pending_per_source: int = 64
    # A browser's message is held whole until its last fragment: this bounds a session's
    # memory (noVNC sends a few KiB at a time); larger: close 1009.
    max_message: int = 256 * 1024

    def check(self) -> tuple[str, str] | None:
        """(key, why) for a combination that cannot work, or None."""
        sources = sum(map(bool, (self.target, self.token_plugin, self.wrap)))
        if sources != 1:
            return "target", "give exactly one of target, token_plugin or wrap"
        if self.token_plugin and not self.token_source:
            return "token_source", "token_plugin needs a token_source"
        if self.key and not self.cert:
            return "key", "key without cert"
        if (self.ssl_only or self.verify_client) and not self.cert:
            key = "ssl_only" if self.ssl_only else "verify_client"
            return key, "needs cert (and key, unless the cert file holds it)"
        if self.wrap_mode not in WRAP_MODES:
            return "wrap_mode", f"expected one of {', '.join(WRAP_MODES)}"
        return None

    def describe(self) -> dict[str, object]:
        where = f"[{self.host}]" if ":" in self.host else self.host or "*"
        return {
            "name": self.name,
            "listen": f"{where}:{self.port}",
            "target": str(self.target) if self.target else "",
            "tokens": f"{self.token_plugin} {self.token_source}".strip(),
            "tls": "only" if self.ssl_only else ("yes" if self.cert else "no"),
            "web": self.web,
        }
