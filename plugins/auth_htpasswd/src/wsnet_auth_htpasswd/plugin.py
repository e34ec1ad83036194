"""Hook implementations: the [auth_htpasswd] section and the authenticator it configures.

```toml
[auth_htpasswd]
file = "/etc/wsnet/users.htpasswd"   # made with Apache's htpasswd (-B, -m, -s, -2, -5)
realm = "wsnet"                      # shown in WWW-Authenticate
workers = 2                          # threads that hash passwords (their own pool)
queue = 16                           # checks waiting for a thread; one more: 503
max_failures = 5                     # per source and per user before delays (429)
max_delay = 60                       # seconds: the longest delay
max_bcrypt_cost = 14                 # a line above it is refused (its user cannot log in)
max_sha_rounds = 1000000             # the same for $5$/$6$ rounds=
```
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from wsnet import Authenticator, AuthRefused, Config, Principal, StashKey
from wsnet.control import parse_basic
from wsnet.htpasswd import Caps, HtpasswdError, HtpasswdFile
from wsnet.node import Node
from wsnet.passcheck import CheckRefused, GateSettings, PasswordGate

log = logging.getLogger("wsnet.auth_htpasswd")


@dataclass(frozen=True, slots=True)
class Settings:
    users: HtpasswdFile
    realm: str
    gate: GateSettings


SETTINGS: StashKey[Settings] = StashKey("auth_htpasswd.settings")


def wsnet_configure(config: Config) -> None:
    s = config.section("auth_htpasswd")
    path = s.get_str("file")
    realm = s.get_str("realm", "wsnet")
    if '"' in realm or not realm.isprintable() or len(realm) > 200:
        raise s.error(
            "realm", f"expected printable text without '\"', at most 200, got {realm[:60]!r}"
        )
    gate = GateSettings(
        workers=s.get_int("workers", 2, lo=1, hi=64),
        queue=s.get_int("queue", 16, lo=0, hi=100_000),
        max_failures=s.get_int("max_failures", 5, lo=1, hi=1_000_000),
        max_delay=s.get_seconds("max_delay", 60.0, hi=86400.0),
    )
    caps = Caps(s.get_int("max_bcrypt_cost", 14, lo=4, hi=31),
                s.get_int("max_sha_rounds", 1_000_000, lo=1000, hi=999_999_999))  # fmt: skip
    s.done()
    try:
        users = HtpasswdFile(path, caps)
    except HtpasswdError as exc:
        raise s.error("file", str(exc)) from None
    config.stash[SETTINGS] = Settings(users, realm, gate)


class HtpasswdAuthenticator(Authenticator):
    """HTTP Basic against the file; the file is re-read when it changes (mtime, size, inode).

    Hashing runs in a pool of its own, behind per-source and per-user penalties
    (wsnet.passcheck): a flood of wrong passwords is refused, not queued.
    """

    name = "htpasswd"
    sends_secret = True  # HTTP Basic: the password itself, readable without TLS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gate = PasswordGate(settings.users, settings.gate, "wsnet-login-hash")

    async def authenticate(self, request: web.Request) -> Principal | None:
        creds = parse_basic(request.headers.get("Authorization", ""))
        if creds is None:
            return None  # not ours: another authenticator (mTLS) may accept, else 401
        user, password = creds
        try:
            ok = await self.gate.check(user, password, request.remote or "?")
        except CheckRefused as exc:
            raise AuthRefused(f"{exc.reason} ({user!r})", exc.status, exc.headers) from None
        if ok:
            return Principal(user, "htpasswd")
        raise AuthRefused(f"wrong user or password for {user!r}", 401, self.challenge())

    def challenge(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.settings.realm}", charset="UTF-8"'}


def wsnet_register_authenticators(node: Node) -> Iterable[Authenticator]:
    settings = node.stash.get(SETTINGS, None)
    return [HtpasswdAuthenticator(settings)] if settings is not None else []


def wsnet_reload(node: Node, config: Config) -> None:
    """SIGHUP: the file read again now (a changed path: the new file), realm replaced.

    The authenticator exists only when the node started with this section, so adding
    [auth_htpasswd] to a running node that had none needs a restart.
    """
    new = config.stash.get(SETTINGS, None)
    auths = [a for a in node.authenticators if isinstance(a, HtpasswdAuthenticator)]
    if new is None or not auths:
        if new is not None or auths:
            log.warning("SIGHUP: [auth_htpasswd] added or removed: needs a restart")
        return
    auth = auths[0]
    old = auth.settings
    if new.gate != old.gate:
        log.warning("SIGHUP: [auth_htpasswd] workers, queue, max_failures, max_delay: "
                    "need a restart, keeping the running values")  # fmt: skip
    if new.users.path == old.users.path and new.users.caps == old.users.caps:
        old.users.reload_if_changed()  # logs the users it read; a broken file keeps the old
        new = Settings(old.users, new.realm, old.gate)
    else:
        log.info("SIGHUP: [auth_htpasswd] file %r -> %r (%d users)",
                 old.users.path, new.users.path, len(new.users.users))  # fmt: skip
        new = Settings(new.users, new.realm, old.gate)
    if new.realm != old.realm:
        log.info("SIGHUP: [auth_htpasswd] realm %r -> %r", old.realm, new.realm)
    auth.settings = new
    auth.gate.users = new.users
    node.config.stash[SETTINGS] = new
