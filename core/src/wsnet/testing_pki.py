"""A test PKI made with the real `openssl` CLI, for the tests of the core and of plugins.

The fixture ``pki`` (session-scoped; registered through ``wsnet.testing``) holds a CA,
a server certificate for 127.0.0.1/localhost, two client certificates from that CA and a
client certificate from a foreign CA, each as (certificate, key) paths.  The same commands
are in docs/security.md.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_LEAF_EXT = {
    "server": "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    "client": "extendedKeyUsage=clientAuth\n",
}


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca: Pair
    server: Pair
    client: Pair  # CN=client-1, from ca
    client2: Pair  # CN=client-2, from ca (a trusted cert that is not pinned)
    foreign_ca: Pair
    foreign_client: Pair  # CN=intruder, from foreign_ca


def _openssl(*args: str | Path) -> None:
    res = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{res.stderr}")


def make_ca(d: Path, name: str, cn: str) -> Pair:
    pair = Pair(d / f"{name}.pem", d / f"{name}.key")
    _openssl(
        "req", "-x509", *_CURVE, "-keyout", pair.key, "-out", pair.cert, "-days", "2",
        "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return pair


def make_leaf(d: Path, name: str, cn: str, ca: Pair, kind: str) -> Pair:
    """A certificate for ``cn`` signed by ``ca``; ``kind`` is server (with SAN) or client."""
    pair = Pair(d / f"{name}.pem", d / f"{name}.key")
    csr, ext = d / f"{name}.csr", d / f"{name}.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + _LEAF_EXT[kind]
    )
    _openssl("req", "-new", *_CURVE, "-keyout", pair.key, "-out", csr, "-subj", f"/CN={cn}")
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
        "-out", pair.cert, "-days", "2", "-extfile", ext,
    )  # fmt: skip
    return pair


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "ca", "wsnet test CA")
    foreign = make_ca(d, "foreign-ca", "some other CA")
    return Pki(
        dir=d,
        ca=ca,
        server=make_leaf(d, "server", "server", ca, "server"),
        client=make_leaf(d, "client", "client-1", ca, "client"),
        client2=make_leaf(d, "client2", "client-2", ca, "client"),
        foreign_ca=foreign,
        foreign_client=make_leaf(d, "intruder", "intruder", foreign, "client"),
    )
