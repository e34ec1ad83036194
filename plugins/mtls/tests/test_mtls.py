"""wsnet-mtls: client certificates required, pinned, and named as principals (real openssl PKI)."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, toml_dumps, wait_until
from wsnet.tls import TlsFileError, fingerprint
from wsnet_mtls import parse_pin, principal_from_cert

if TYPE_CHECKING:
    from wsnet.testing_pki import Pair, Pki


def wsnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=30
    )


def hub_config(pki: Pki, **mtls: Any) -> dict[str, Any]:
    return {
        "listen": {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)},
        "mtls": {"ca_file": str(pki.ca.cert), **mtls},
    }


def client(factory: NodeFactory, name: str, hub: NodeProcess, pki: Pki, pair: Pair | None) -> Any:
    dial: dict[str, str] = {"url": hub.url, "ca_file": str(pki.ca.cert)}
    if pair is not None:
        dial |= {"cert_file": str(pair.cert), "key_file": str(pair.key)}
    return factory(name, listen=False, config={"dial": [dial]})


def openssl_fingerprint(cert: Path) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    return out  # "sha256 Fingerprint=AB:CD:..."


def test_trusted_client_links_and_is_named_by_its_cn(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    hub = wsnet_node_factory("hub", plugins=["mtls"], config=hub_config(pki))
    edge = wsnet_node_factory(  # named as its certificate's CN: the name it may claim
        "client-1",
        listen=False,
        extra_args=["--dial", hub.url, "--ca-file", str(pki.ca.cert),
                    "--cert", str(pki.client.cert), "--key", str(pki.client.key)],
    )  # fmt: skip
    wait_until(lambda: "client-1" in hub.peers(), what="mTLS link")
    (link,) = hub.ctl("links")
    assert link["principal"] == "client-1"
    table = wsnet("ctl", "--ctlurl", hub.ctlurl, "links").stdout
    assert "client-1" in table.splitlines()[1]
    assert edge.ctl("ping", "hub", 2)["count"] == 2


def test_untrusted_or_missing_client_cert_refused_in_tls(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    hub = wsnet_node_factory("hub", plugins=["mtls"], config=hub_config(pki))
    intruder = client(wsnet_node_factory, "intruder", hub, pki, pki.foreign_client)
    anonymous = client(wsnet_node_factory, "anon", hub, pki, None)
    for node, ours in (
        (intruder, f"does not trust the client certificate '{pki.foreign_client.cert}'"),
        (anonymous, "requires a client certificate (mTLS) and we sent none"),
    ):
        dial = wait_until(
            lambda n=node: (d := n.ctl("dials")[0])["attempts"] >= 2 and d,
            timeout=15,
            what=f"{node.name} retries",
        )
        assert "closed the connection right after the TLS handshake" in dial["last_error"], dial
        assert ours in dial["last_error"]
    assert hub.ctl("links") == []
    assert "link 1 up" not in hub.log()


def test_pinned_certificates_only(wsnet_node_factory: NodeFactory, pki: Pki) -> None:
    # One pin as a file, one as openssl prints a fingerprint: client-1 and the hub's own cert.
    pins = [str(pki.client.cert), openssl_fingerprint(pki.server.cert)]
    hub = wsnet_node_factory("hub", plugins=["mtls", "log"], config=hub_config(pki, pinned=pins))
    client(wsnet_node_factory, "client-1", hub, pki, pki.client)
    other = client(wsnet_node_factory, "other", hub, pki, pki.client2)
    wait_until(lambda: "client-1" in hub.peers(), what="pinned client links")
    dial = wait_until(
        lambda: (d := other.ctl("dials")[0])["attempts"] >= 2 and d, timeout=15, what="refusals"
    )
    assert "HTTP 403 Forbidden: mtls: the client certificate CN=client-2" in dial["last_error"]
    assert "is signed by a trusted CA but is not pinned" in dial["last_error"]
    assert hub.peers() == {"client-1"}
    der = ssl.PEM_cert_to_DER_cert(pki.client2.cert.read_text())
    line = next(x for x in hub.log().splitlines() if "is not pinned" in x)
    assert "refused CN=client-2 from 127.0.0.1" in line
    assert fingerprint(der) in line
    assert "auth.failure" in hub.log()  # the AuthFailure event, through wsnet-log


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mtls": {"ca_file": "CA"}}, "[mtls]: client certificates need TLS on the link listener"),
        ({"mtls": {}}, "[mtls] ca_file: required key missing"),
        ({"mtls": {"ca_file": "/nonexistent.pem"}}, "[mtls] ca_file: '/nonexistent.pem': No such"),
        ({"mtls": {"ca_file": "CA", "pinned": ["abc"]}}, "[mtls] pinned: entry #1: neither"),
        ({"mtls": {"ca_file": "CA", "pined": []}}, "[mtls] pined: unknown key"),
    ],
)
def test_config_errors_name_file_and_key(
    tmp_path: Path, pki: Pki, config: dict[str, Any], message: str
) -> None:
    section = dict(config["mtls"])
    if section.get("ca_file") == "CA":
        section["ca_file"] = str(pki.ca.cert)
    raw = {"node": {"plugins": ["mtls"]}, "mtls": section}
    if "pinned" in section or "pined" in section:
        raw |= {"listen": {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}}
    cfg = tmp_path / "hub.toml"
    cfg.write_text(toml_dumps(raw))
    res = wsnet("run", "--config", str(cfg), "--ctl-port", str(free_port()))
    assert res.returncode == 2, res.stderr
    assert f"wsnet: error: {cfg}: {message}" in res.stderr


def test_fingerprint_command_and_pin_forms(pki: Pki) -> None:
    res = wsnet("mtls", "fingerprint", str(pki.client.cert))
    fp = fingerprint(ssl.PEM_cert_to_DER_cert(pki.client.cert.read_text()))
    assert res.stdout.split() == [fp, str(pki.client.cert)]
    printed = openssl_fingerprint(pki.client.cert)
    assert parse_pin(printed) == [fp]
    assert parse_pin(f"sha256:{fp.upper()}") == [fp]
    assert parse_pin(printed.split("=", 1)[1]) == [fp]
    with pytest.raises(TlsFileError):
        parse_pin("deadbeef")


def test_principal_from_peer_certificate() -> None:
    cert = {
        "subject": ((("organizationName", "Example"),), (("commonName", "edge7"),)),
        "issuer": ((("commonName", "CA"),),),
        "serialNumber": "0A",
    }
    p = principal_from_cert(cert, "ab" * 32)
    assert (p.name, p.method) == ("edge7", "mtls")
    assert p.attributes["subject"] == "O=Example,CN=edge7"
    assert p.attributes["issuer"] == "CN=CA"
    no_cn = principal_from_cert({"subject": ((("organizationName", "X"),),)}, "cd" * 32)
    assert no_cn.name == "O=X"
