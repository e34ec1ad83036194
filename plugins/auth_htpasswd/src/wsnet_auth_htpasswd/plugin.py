"""Hook implementations: the [auth_htpasswd] section, the control API's ``[control]
htpasswd`` shorthand, and the authenticators they configure.

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

``[control] htpasswd = FILE`` (or ``--ctl-htpasswd FILE``; the core loads this plugin for
it) adds an authenticator of the "control" scope on that file: realm "wsnet control", a
pool of one thread with 8 waiting, penalties of the defaults.  Without [auth_htpasswd]
the plugin then guards only the control API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from wsnet import Authenticator, Config, ConfigError, NodeAPI, StashKey

from .auth import (
    CONTROL_GATE,
    CONTROL_REALM,
    ControlHtpasswdAuthenticator,
    HtpasswdAuthenticator,
    Settings,
)
from .htpasswd import Caps, HtpasswdError, HtpasswdFile
from .passcheck import GateSettings

log = logging.getLogger("wsnet.auth_htpasswd")
SETTINGS: StashKey[Settings] = StashKey("auth_htpasswd.settings")
CONTROL: StashKey[Settings] = StashKey("auth_htpasswd.control")


def wsnet_configure(config: Config) -> None:
    _configure_control(config)
    if config.control.htpasswd and "auth_htpasswd" not in config.raw:
        return  # loaded for the shorthand only: no authenticator for links
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


def _configure_control(config: Config) -> None:
    """``[control] htpasswd``: the file checked now; errors name the key or the flag."""
    path, origin = config.control.htpasswd, config.control.htpasswd_origin
    if not path:
        return
    try:
        users = HtpasswdFile(path)
    except HtpasswdError as exc:
        raise ConfigError(*origin, str(exc)) from None
    except OSError as exc:  # in case a read error slips through
        raise ConfigError(*origin, f"{path!r}: {exc.strerror or exc}") from None
    config.stash[CONTROL] = Settings(users, CONTROL_REALM, CONTROL_GATE)


def wsnet_register_authenticators(node: NodeAPI) -> Iterable[Authenticator]:
    settings, control = node.stash.get(SETTINGS, None), node.stash.get(CONTROL, None)
    out: list[Authenticator] = []
    if settings is not None:
        out.append(HtpasswdAuthenticator(settings))
    if control is not None:
        out.append(ControlHtpasswdAuthenticator(control))
    return out


def wsnet_reload(node: NodeAPI, config: Config) -> None:
    """SIGHUP: the file read again now (a changed path: the new file), realm replaced.

    The authenticator exists only when the node started with this section, so adding
    [auth_htpasswd] to a running node that had none needs a restart.  The control API's
    file is re-read when it changes, as before; another path there needs a restart.
    """
    new = config.stash.get(SETTINGS, None)
    auths = [a for a in node.authenticators if type(a) is HtpasswdAuthenticator]
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
