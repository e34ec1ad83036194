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
    if '"' in realm or not realm.isprintable():
        raise s.error("realm", f"expected printable text without '\"', got {realm!r}")
    s.done()
    try:
        users = HtpasswdFile(path)
    except HtpasswdError as exc:
        raise s.error("file", str(exc)) from None
    config.stash[SETTINGS] = Settings(users, realm)


class HtpasswdAuthenticator(Authenticator):
    """HTTP Basic against the file; the file is re-read when it changes (mtime, size, inode)."""

    name = "htpasswd"

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
