"""Apache htpasswd files: parse, verify, and re-read when the file changes.

Supported hashes, as Apache's ``htpasswd`` writes them: ``{SHA}`` (-s, what
etherws reads), ``$apr1$`` MD5 (-m, Apache's default), bcrypt ``$2y$``/``$2b$``/
``$2a$`` (-B), and crypt SHA-256/512 ``$5$``/``$6$`` (-2/-5).  Anything else
(DES crypt, plain text, unknown) is an error naming file, line and user when
the file is loaded: a user that silently cannot log in is worse than a refusal
to start.  Used by the control API (``--ctl-htpasswd``) and by the
wsnet-auth-htpasswd plugin for links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import WsnetError

log = logging.getLogger("wsnet.htpasswd")
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CACHE_MAX = 1024  # successful checks remembered until the file changes


class HtpasswdError(WsnetError):
    """A file that cannot be used; the message names the file (and line)."""


Checker = Callable[[bytes], bool]


@dataclass(frozen=True, slots=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


def _stamp(path: str) -> _Stamp:
    st = os.stat(path)
    return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


class HtpasswdFile:
    """Users of one htpasswd file.  ``verify`` is thread-safe (bcrypt runs in threads)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp, self._users = self._load()
        self._ok: set[bytes] = set()

    @property
    def users(self) -> list[str]:
        self.reload_if_changed()
        return sorted(self._users)

    def _load(self) -> tuple[_Stamp, dict[str, Checker]]:
        try:
            stamp = _stamp(self.path)
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise HtpasswdError(f"{self.path!r}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise HtpasswdError(f"{self.path!r}: not a text file") from None
        return stamp, parse(text, self.path)

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed.  A broken edit keeps the old users (logged)."""
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            log.error("htpasswd %r: %s; keeping the users read before", self.path, exc.strerror)
            return False
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            try:
                self._stamp, self._users = self._load()
            except HtpasswdError as exc:
                self._stamp = stamp  # do not re-read a broken file on every request
                log.error("htpasswd: %s; keeping the users read before", exc)
                return False
            self._ok.clear()
        log.info("htpasswd %r re-read: %d users", self.path, len(self._users))
        return True

    def verify(self, user: str, password: str) -> bool:
        """True when ``user`` exists and ``password`` matches its hash."""
        self.reload_if_changed()
        check = self._users.get(user)
        if check is None:
            return False
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        if key in self._ok:  # reconnect storms do not pay bcrypt again
            return True
        ok = check(password.encode("utf-8"))
        if ok:
            with self._lock:
                if len(self._ok) >= _CACHE_MAX:
                    self._ok.clear()
                self._ok.add(key)
        return ok


def parse(text: str, source: str = "<htpasswd>") -> dict[str, Checker]:
    """USER:HASH lines (blank lines and # comments skipped) -> a checker per user."""
    users: dict[str, Checker] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        where = f"{source!r} line {number}"
        if not sep or not user:
            raise HtpasswdError(f"{where}: expected USER:HASH")
        try:
            users[user] = checker(hashed)
        except ValueError as exc:
            raise HtpasswdError(f"{where} (user {user!r}): {exc}") from None
    return users


def checker(hashed: str) -> Checker:
    """A function telling whether a password matches ``hashed``; ValueError if unsupported."""
    if hashed.startswith("{SHA}"):
        want = base64.b64decode(hashed[5:] + "==")
        return lambda pw: hmac.compare_digest(hashlib.sha1(pw).digest(), want)
    if hashed.startswith("$apr1$"):
        return lambda pw: hmac.compare_digest(md5_crypt(pw, hashed), hashed)
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        return _bcrypt_checker(hashed)
    if hashed.startswith(("$5$", "$6$")):
        return lambda pw: hmac.compare_digest(sha_crypt(pw, hashed), hashed)
    if hashed.startswith("$1$"):
        raise ValueError("plain MD5 crypt ($1$) is not supported; use htpasswd -B or -m")
    if len(hashed) == 13 and all(c in _ITOA64 for c in hashed):
        raise ValueError("DES crypt is not supported (8-character passwords); use htpasswd -B")
    raise ValueError("unsupported or plain-text password hash; make it with htpasswd -B")


def _bcrypt_checker(hashed: str) -> Checker:
    import bcrypt  # imported only when a bcrypt user exists

    # The bcrypt package calls the variant $2b$; $2y$ (Apache's) is the same algorithm.
    stored = ("$2b$" + hashed[4:]).encode()
    if len(stored) != 60:
        raise ValueError("malformed bcrypt hash (expected 60 characters)")

    def check(pw: bytes) -> bool:
        try:
            return bool(bcrypt.checkpw(pw[:72], stored))
        except ValueError:
            return False

    return check


def _b64_24(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def md5_crypt(pw: bytes, setting: str) -> str:
    """Apache's apr1 MD5 crypt (as md5crypt, with the "$apr1$" magic)."""
    magic = "$apr1$"
    salt = setting[len(magic) :].split("$", 1)[0][:8].encode()
    ctx = hashlib.md5(pw + magic.encode() + salt)
    alt = hashlib.md5(pw + salt + pw).digest()
    for i in range(len(pw), 0, -16):
        ctx.update(alt[: min(16, i)])
    i = len(pw)
    while i:
        ctx.update(b"\0" if i & 1 else pw[:1])
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        c = hashlib.md5(pw if i & 1 else final)
        if i % 3:
            c.update(salt)
        if i % 7:
            c.update(pw)
        c.update(final if i & 1 else pw)
        final = c.digest()
    f = final
    order = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    encoded = "".join(_b64_24(f[a], f[b], f[c], 4) for a, b, c in order)
    return f"{magic}{salt.decode()}${encoded}{_b64_24(0, 0, f[11], 2)}"


# Byte order of the final encoding (Drepper's SHA-crypt specification).
_SHA256_ORDER = [(0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
                 (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29)]  # fmt: skip
_SHA512_ORDER = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4),
                 (47, 5, 26), (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51),
                 (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
                 (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19),
                 (62, 20, 41)]  # fmt: skip


def sha_crypt(pw: bytes, setting: str) -> str:
    """crypt(3) SHA-256 ($5$) or SHA-512 ($6$) of ``pw`` with the salt and rounds of ``setting``."""
    magic = setting[:3]
    new = hashlib.sha256 if magic == "$5$" else hashlib.sha512
    parts = setting[3:].split("$")
    rounds, custom = 5000, False
    if parts[0].startswith("rounds="):
        rounds = min(max(int(parts[0][7:]), 1000), 999_999_999)
        custom = True
        parts = parts[1:]
    salt = parts[0][:16].encode()
    size = new().digest_size
    b = new(pw + salt + pw).digest()
    a = new(pw + salt)
    for i in range(len(pw), 0, -size):
        a.update(b[: min(size, i)])
    i = len(pw)
    while i:
        a.update(b if i & 1 else pw)
        i >>= 1
    ad = a.digest()
    dp = new(pw * len(pw)).digest()
    p = (dp * (len(pw) // size + 1))[: len(pw)]
    ds = new(salt * (16 + ad[0])).digest()
    s = (ds * (len(salt) // size + 1))[: len(salt)]
    c = ad
    for i in range(rounds):
        h = new(p if i & 1 else c)
        if i % 3:
            h.update(s)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    if size == 32:
        enc = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _SHA256_ORDER)
        enc += _b64_24(0, c[31], c[30], 3)
    else:
        enc = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _SHA512_ORDER)
        enc += _b64_24(0, 0, c[63], 2)
    head = f"{magic}rounds={rounds}$" if custom else magic
    return f"{head}{salt.decode()}${enc}"
