"""Hook implementations: the [auth_htpasswd] section and the authenticator it configures.

```toml
[auth_htpasswd]
file = "/etc/wsnet/users.htpasswd"   # made with Apache's htpasswd (-B, -m, -s, -2, -5)
realm = "wsnet"                      # shown in WWW-Authenticate
```
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from wsnet import Authenticator, AuthRefused, Config, Principal, StashKey
from wsnet.control import parse_basic
from wsnet.htpasswd import HtpasswdError, HtpasswdFile
from wsnet.node import Node

log = logging.getLogger("wsnet.auth_htpasswd")


@dataclass(frozen=True, slots=True)
class Settings:
    users: HtpasswdFile
    realm: str


SETTINGS: StashKey[Settings] = StashKey("auth_htpasswd.settings")


def wsnet_configure(config: Config) -> None:
    s = config.section("auth_htpasswd")
    path = s.get_str("file")
    realm = s.get_str("realm", "wsnet")
    if '"' in realm or not realm.isprintable() or len(realm) > 200:
        raise s.error(
            "realm", f"expected printable text without '\"', at most 200, got {realm[:60]!r}"
        )
    s.done()
    try:
        users = HtpasswdFile(path)
    except HtpasswdError as exc:
        raise s.error("file", str(exc)) from None
    config.stash[SETTINGS] = Settings(users, realm)


class HtpasswdAuthenticator(Authenticator):
    """HTTP Basic against the file; the file is re-read when it changes (mtime, size, inode)."""

    name = "htpasswd"
    sends_secret = True  # HTTP Basic: the password itself, readable without TLS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, request: web.Request) -> Principal | None:
        creds = parse_basic(request.headers.get("Authorization", ""))
        if creds is None:
            return None  # not ours: another authenticator (mTLS) may accept, else 401
        user, password = creds
        # bcrypt costs milliseconds to tens of them: never on the event loop.
        if await asyncio.to_thread(self.settings.users.verify, user, password):
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
    if new.users.path == old.users.path:
        old.users.reload_if_changed()  # logs the users it read; a broken file keeps the old
        new = Settings(old.users, new.realm)
    else:
        log.info("SIGHUP: [auth_htpasswd] file %r -> %r (%d users)",
                 old.users.path, new.users.path, len(new.users.users))  # fmt: skip
    if new.realm != old.realm:
        log.info("SIGHUP: [auth_htpasswd] realm %r -> %r", old.realm, new.realm)
    auth.settings = new
    node.config.stash[SETTINGS] = new
