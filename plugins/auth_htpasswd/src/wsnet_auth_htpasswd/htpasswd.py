"""Apache htpasswd files: parse, verify, and re-read when the file changes.

Supported hashes, as Apache's ``htpasswd`` writes them: ``{SHA}`` (-s, what
etherws reads), ``$apr1$`` MD5 (-m, Apache's default), bcrypt ``$2y$``/``$2b$``/
``$2a$`` (-B), and crypt SHA-256/512 ``$5$``/``$6$`` (-2/-5).  Anything else
(DES crypt, plain text, unknown, a hash whose form is wrong) is an error naming file,
line and user when the file is loaded: a user that silently cannot log in is worse than
a refusal to start.  A hash whose cost is above the caps (``Caps``) is reported with
its line and that user is refused: one login must not cost hours of CPU.

Fail closed: a file that disappears or cannot be read refuses everyone until it can be
read again; a file that reads but does not parse keeps the users read before (the last
good file).  Each change of state is one log line.  Used by the control API
(``--ctl-htpasswd``) and by the wsnet-auth-htpasswd plugin for links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from wsnet import WsnetError

from .htcrypt import ITOA64, md5_crypt, sha_crypt

log = logging.getLogger("wsnet.htpasswd")
_CACHE_MAX = 1024  # successful checks remembered until the file changes
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
# The salt may not start with "rounds=": "$5$rounds=abc$..." is a broken rounds field.
_SHA = re.compile(r"\$([56])\$(?:rounds=(\d{1,10})\$)?(?!rounds=)([^$:]{0,16})\$([./0-9A-Za-z]+)")
_APR1 = re.compile(r"\$apr1\$[^$:]{0,8}\$[./0-9A-Za-z]{22}")
_SHA1 = re.compile(r"\{SHA\}[A-Za-z0-9+/]{27}=")


class HtpasswdError(WsnetError):
    """A file that cannot be used; the message names the file (and line)."""


class HtpasswdUnreadable(HtpasswdError):
    """The file is missing or cannot be read (as opposed to read but malformed)."""


Checker = Callable[[bytes], bool]


@dataclass(frozen=True, slots=True)
class Caps:
    """Hash costs above which a line is refused rather than verified."""

    bcrypt_cost: int = 14  # about a second per check on a 2020s core
    sha_rounds: int = 1_000_000  # $5$/$6$ rounds=: about half a second here (pure Python)


@dataclass(frozen=True, slots=True)
class Entry:
    check: Checker | None  # None: over a cap, the user is refused
    line: int
    kind: tuple[str, int]  # (scheme, cost): the dummy hash is of the most common kind


@dataclass(frozen=True, slots=True)
class Table:
    entries: dict[str, Entry] = field(default_factory=dict)
    over_cap: tuple[str, ...] = ()  # "line N (user 'x'): why", for the log

    @property
    def dummy(self) -> Checker | None:
        """A checker of the most common (scheme, cost): unknown users cost what known ones do."""
        usable = [e for e in self.entries.values() if e.check is not None]
        if not usable:
            return None
        kind = Counter(e.kind for e in usable).most_common(1)[0][0]
        return next(e.check for e in usable if e.kind == kind)


@dataclass(frozen=True, slots=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


def _stamp(path: str) -> _Stamp:
    st = os.stat(path)
    return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


class HtpasswdFile:
    """Users of one htpasswd file.  ``verify`` is thread-safe (it runs in worker threads).

    Re-read when its modification time, size or inode changes (checked on every login),
    so that deleting the file revokes everyone at once, without a SIGHUP.
    """

    def __init__(self, path: str, caps: Caps | None = None, *, report: bool = True) -> None:
        self.path = path
        self.caps = caps or Caps()
        self._lock = threading.Lock()
        self._stamp: _Stamp | None = _stamp_or_error(path)
        self._table = self._read()
        self._ok: set[bytes] = set()
        self._state = ""  # why the file is not in force as read ("" when it is)
        if report:  # not when start-up only checks the file before the real load
            self._report_caps()

    @property
    def users(self) -> list[str]:
        self.reload_if_changed()
        return sorted(self._table.entries)

    def _read(self) -> Table:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise HtpasswdUnreadable(f"{self.path!r}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise HtpasswdError(f"{self.path!r}: not a text file") from None
        return parse(text, self.path, self.caps)

    def _report_caps(self) -> None:
        for line in self._table.over_cap:
            log.error("htpasswd %r %s; this user is refused", self.path, line)

    def _note(self, state: str, message: str, level: int = logging.ERROR) -> None:
        """Log ``message`` only when the state changes: not once per request."""
        if state != self._state:
            self._state = state
            log.log(level, "%s", message)

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed.  Missing or unreadable: everyone is refused;
        malformed: the users read before stay (the last good file).  Logged once each."""
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            self._close(exc.strerror or str(exc))
            return False
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            self._stamp = stamp  # a broken file is not re-read on every request
            try:
                table = self._read()
            except HtpasswdUnreadable as exc:
                self._table, self._stamp = Table(), None
                self._ok.clear()
                self._note("closed", f"htpasswd {exc}: refusing everyone until it can be read")
                return False
            except HtpasswdError as exc:
                kept = "keeping the users read before" if self._table.entries else "refusing all"
                self._note(f"bad {stamp}", f"htpasswd: {exc}; {kept} until it is fixed")
                return False
            self._table = table
            self._ok.clear()
        self._state = ""
        log.info("htpasswd %r re-read: %d users", self.path, len(table.entries))
        self._report_caps()
        return True

    def _close(self, why: str) -> None:
        with self._lock:
            self._table, self._stamp = Table(), None
            self._ok.clear()
        self._note("closed", f"htpasswd {self.path!r}: {why}: refusing everyone until it is back")

    def cached(self, user: str, password: str) -> bool:
        """True when this user logged in with this very password since the file last
        changed: cheap (no hashing), for reconnect storms and users under attack."""
        self.reload_if_changed()
        entry = self._table.entries.get(user)
        return entry is not None and entry.check is not None and _key(user, password) in self._ok

    def verify(self, user: str, password: str) -> bool:
        """True when ``user`` exists and ``password`` matches its hash; never raises.

        Unknown users and users over a cap are checked against a dummy hash of the
        file's most common kind and cost, and refused, so that timing does not tell
        which users exist.
        """
        self.reload_if_changed()
        table = self._table
        entry = table.entries.get(user)
        real = entry.check if entry is not None else None
        if real is not None and _key(user, password) in self._ok:
            return True
        check = real or table.dummy
        if check is None:
            return False
        try:
            ok = check(password.encode("utf-8")) and check is real
        except Exception as exc:  # a hash that parsed but cannot be verified: a refusal
            where = f"line {entry.line} (user {user!r})" if entry and check is real else "dummy"
            log.error("htpasswd %r %s: cannot verify: %s", self.path, where, exc)
            return False
        if ok:
            with self._lock:
                if len(self._ok) >= _CACHE_MAX:
                    self._ok.clear()
                self._ok.add(_key(user, password))
        return ok


# Keyed with a secret of this process: the cache of good logins must not be a table of
# fast, unsalted hashes that a memory dump could brute-force past the file's bcrypt.
_CACHE_KEY = os.urandom(32)


def _key(user: str, password: str) -> bytes:
    text = f"{user}\0{password}".encode("utf-8", "surrogatepass")
    return hmac.new(_CACHE_KEY, text, hashlib.sha256).digest()


def _stamp_or_error(path: str) -> _Stamp:
    try:
        return _stamp(path)
    except OSError as exc:
        raise HtpasswdUnreadable(f"{path!r}: {exc.strerror or exc}") from None


def parse(text: str, source: str = "<htpasswd>", caps: Caps | None = None) -> Table:
    """USER:HASH lines (blank lines and # comments skipped) -> a checker per user."""
    caps = caps or Caps()
    entries: dict[str, Entry] = {}
    over: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        where = f"{source!r} line {number}"
        if not sep or not user:
            raise HtpasswdError(f"{where}: expected USER:HASH")
        try:
            kind = hash_kind(hashed)
        except ValueError as exc:
            raise HtpasswdError(f"{where} (user {user!r}): {exc}") from None
        problem = over_cap(kind, caps)
        if problem:
            over.append(f"line {number} (user {user!r}): {problem}")
        entries[user] = Entry(None if problem else checker(hashed), number, kind)
    return Table(entries, tuple(over))


def hash_kind(hashed: str) -> tuple[str, int]:
    """(scheme, cost) of a well-formed hash; ValueError (saying why) for anything else."""
    if m := _BCRYPT.fullmatch(hashed):
        if not 4 <= int(m[1]) <= 31:
            raise ValueError(f"bcrypt cost {int(m[1])} is outside 4..31")
        return "bcrypt", int(m[1])
    if m := _SHA.fullmatch(hashed):
        want = 43 if m[1] == "5" else 86
        if len(m[4]) != want:
            raise ValueError(f"malformed ${m[1]}$ hash (expected {want} hash characters)")
        return f"sha{m[1]}", int(m[2]) if m[2] else 5000
    if _APR1.fullmatch(hashed):
        return "apr1", 1000
    if _SHA1.fullmatch(hashed):
        return "sha1", 1
    if re.match(r"\$[56]\$rounds=(?!\d+\$)", hashed):
        raise ValueError(f"malformed {hashed[:3]} hash: rounds= is not a number")
    for prefix in ("$2", "$5$", "$6$", "$apr1$", "{SHA}"):
        if hashed.startswith(prefix):
            raise ValueError(f"malformed {prefix}... hash (cannot be verified)")
    if hashed.startswith("$1$"):
        raise ValueError("plain MD5 crypt ($1$) is not supported; use htpasswd -B or -m")
    if len(hashed) == 13 and all(c in ITOA64 for c in hashed):
        raise ValueError("DES crypt is not supported (8-character passwords); use htpasswd -B")
    raise ValueError("unsupported or plain-text password hash; make it with htpasswd -B")


def over_cap(kind: tuple[str, int], caps: Caps) -> str:
    """Why a hash of ``kind`` costs too much to verify, or ""."""
    scheme, cost = kind
    if scheme == "bcrypt" and cost > caps.bcrypt_cost:
        return f"bcrypt cost {cost} is above the cap {caps.bcrypt_cost} (max_bcrypt_cost)"
    if scheme in ("sha5", "sha6") and cost > caps.sha_rounds:
        return f"rounds={cost} is above the cap {caps.sha_rounds} (max_sha_rounds)"
    return ""


def checker(hashed: str) -> Checker:
    """A function telling whether a password matches ``hashed`` (checked by hash_kind)."""
    if hashed.startswith("{SHA}"):
        want = base64.b64decode(hashed[5:])
        return lambda pw: hmac.compare_digest(hashlib.sha1(pw).digest(), want)
    if hashed.startswith("$apr1$"):
        return lambda pw: hmac.compare_digest(md5_crypt(pw, hashed), hashed)
    if hashed.startswith("$2"):
        return _bcrypt_checker(hashed)
    return lambda pw: hmac.compare_digest(sha_crypt(pw, hashed), hashed)


def _bcrypt_checker(hashed: str) -> Checker:
    import bcrypt  # imported only when a bcrypt user exists

    # The bcrypt package calls the variant $2b$; $2y$ (Apache's) is the same algorithm.
    stored = ("$2b$" + hashed[4:]).encode()
    return lambda pw: bool(bcrypt.checkpw(pw[:72], stored))
