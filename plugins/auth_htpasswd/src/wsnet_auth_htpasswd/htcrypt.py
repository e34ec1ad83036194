"""The crypt(3) hashes that Apache's htpasswd writes and no well-kept library covers on
every Python this project supports: apr1 MD5 (``htpasswd -m``) and SHA-256/512 crypt
(``-2``/``-5``; the ``crypt`` module is deprecated and gone in Python 3.13).  Pure Python,
checked against Apache's own tool in plugins/auth_htpasswd/tests/test_htpasswd.py; bcrypt
uses the ``bcrypt`` package.  The callers cap the rounds (htpasswd.py): these functions
trust their input.
"""

from __future__ import annotations

import hashlib

ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b64_24(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(ITOA64[w & 0x3F])
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
