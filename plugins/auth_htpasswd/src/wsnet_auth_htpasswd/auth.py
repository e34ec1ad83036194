"""The authenticators: HTTP Basic against an htpasswd file, for links and for the control API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wsnet import Authenticator, AuthRefused, Principal

from .basic import parse_basic
from .htpasswd import HtpasswdFile
from .passcheck import CheckRefused, GateSettings, PasswordGate

if TYPE_CHECKING:
    from aiohttp import web

CONTROL_REALM = "wsnet control"
# The control API's own pool: small, so that a flood of link logins (their own pool) can
# never make the admin wait, and one thread is enough for the few callers an API has.
CONTROL_GATE = GateSettings(workers=1, queue=8)


@dataclass(frozen=True, slots=True)
class Settings:
    users: HtpasswdFile
    realm: str
    gate: GateSettings


class HtpasswdAuthenticator(Authenticator):
    """HTTP Basic against the file on link upgrades ([auth_htpasswd]); the file is re-read
    when it changes (mtime, size, inode).

    Hashing runs in a pool of its own, behind per-source and per-user penalties
    (passcheck.py): a flood of wrong passwords is refused, not queued.
    """

    name = "htpasswd"
    sends_secret = True  # HTTP Basic: the password itself, readable without TLS
    pool_name = "wsnet-login-hash"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gate = PasswordGate(settings.users, settings.gate, self.pool_name)

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
            return Principal(user, self.name)
        raise AuthRefused(f"wrong user or password for {user!r}", 401, self.challenge())

    def challenge(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.settings.realm}", charset="UTF-8"'}


class ControlHtpasswdAuthenticator(HtpasswdAuthenticator):
    """The same for every control API request: ``[control] htpasswd`` / ``--ctl-htpasswd``.

    Its principals' method is ``control-htpasswd``; its pool and penalties are its own.
    """

    name = "control-htpasswd"
    scopes = frozenset({"control"})
    pool_name = "wsnet-ctl-hash"

    def challenge(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.settings.realm}"'}
