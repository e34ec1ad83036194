"""Each way a wss:// dial fails has its own message, directly and through a real tinyproxy.

Certificates are made here (expired, for another host) with `cryptography`, signed by the
session's openssl CA; every hub is a real `wsnet run`, and one edge node holds one
[[dial]] entry per case, so that `ctl dials` shows every case's last_error side by side.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_proxy import Tinyproxy
from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pair, Pki


def issue(pki: Pki, tmp: Path, name: str, *, days: tuple[int, int], san: x509.GeneralName) -> Pair:
    """A server certificate from the test CA, valid from/until ``days`` relative to now."""
    from wsnet.testing_pki import Pair

    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=days[0]))
        .not_valid_after(now + datetime.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = Pair(tmp / f"{name}.pem", tmp / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pair


def tls_hub(factory: NodeFactory, name: str, pair: Pair, **extra: Any) -> NodeProcess:
    listen = {"tls_cert": str(pair.cert), "tls_key": str(pair.key)}
    return factory(name, config={"listen": listen, **extra.pop("config", {})}, **extra)


@pytest.fixture
def hubs(wsnet_node_factory: NodeFactory, pki: Pki, tmp_path: Path) -> dict[str, NodeProcess]:
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    expired = issue(pki, tmp_path, "expired", days=(-10, -1), san=loopback)
    elsewhere = issue(pki, tmp_path, "elsewhere", days=(-1, 2), san=x509.DNSName("other.example"))
    mtls = {"ca_file": str(pki.ca.cert), "pinned": [str(pki.client.cert)]}
    return {
        "good": tls_hub(wsnet_node_factory, "good", pki.server),
        "expired": tls_hub(wsnet_node_factory, "expired", expired),
        "elsewhere": tls_hub(wsnet_node_factory, "elsewhere", elsewhere),
        "mtls": tls_hub(
            wsnet_node_factory, "mtls", pki.server, plugins=["mtls"], config={"mtls": mtls}
        ),
    }


def tls_cases(hubs: dict[str, NodeProcess], pki: Pki) -> dict[str, tuple[dict[str, Any], str]]:
    """name: (dial entry, the words its last_error must contain)."""
    ca = str(pki.ca.cert)

    def cert(pair: Pair) -> dict[str, str]:
        return {"ca_file": ca, "cert_file": str(pair.cert), "key_file": str(pair.key)}

    m = hubs["mtls"].url
    return {
        "wrong CA": (
            {"url": hubs["good"].url, "ca_file": str(pki.foreign_ca.cert)},
            "is not signed by a CA we trust (unknown issuer)",
        ),
        "expired": (
            {"url": hubs["expired"].url, "ca_file": ca},
            "the server certificate has expired",
        ),
        "host name": (
            {"url": hubs["elsewhere"].url, "ca_file": ca},
            "the server certificate is not for 127.0.0.1 (host name mismatch)",
        ),
        "mTLS missing": (
            {"url": m, "ca_file": ca},
            "requires a client certificate (mTLS) and we sent none",
        ),
        "mTLS untrusted": (
            {"url": m, **cert(pki.foreign_client)},
            f"does not trust the client certificate '{pki.foreign_client.cert}'",
        ),
        "mTLS not pinned": (
            {"url": m, **cert(pki.client2)},
            "refused the link: HTTP 403 Forbidden: mtls: the client certificate "
            "CN=client-2 (sha256",
        ),
    }


def last_errors(edge: NodeProcess, count: int) -> dict[str, str]:
    """url+options position -> last_error, once every dial has failed at least twice."""

    def failed() -> list[Any] | None:
        dials = edge.ctl("dials")
        done = len(dials) == count and all(d["attempts"] >= 2 and d["last_error"] for d in dials)
        return dials if done else None

    dials = wait_until(failed, timeout=60, what="every dial failed twice")
    return {str(i): str(d["last_error"]) for i, d in enumerate(dials)}


def check(edge: NodeProcess, cases: dict[str, tuple[dict[str, Any], str]]) -> None:
    errors = last_errors(edge, len(cases))
    for i, (name, (_, words)) in enumerate(cases.items()):
        assert words in errors[str(i)], f"{name}: {errors[str(i)]}"
    # Each message is its own: no two cases share one.
    assert len(set(errors.values())) == len(cases), errors


def test_direct_tls_failures_each_say_what_happened(
    wsnet_node_factory: NodeFactory, hubs: dict[str, NodeProcess], pki: Pki
) -> None:
    cases = tls_cases(hubs, pki)
    dead = free_port()
    cases["TCP refused"] = (
        {"url": f"wss://127.0.0.1:{dead}/wsnet"},
        f"connection refused (nothing listens at 127.0.0.1:{dead})",
    )
    edge = wsnet_node_factory(
        "edge", listen=False, config={"dial": [{**d, "proxy": "none"} for d, _ in cases.values()]}
    )
    check(edge, cases)
    assert all(h.ctl("links") == [] for h in hubs.values())


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[list[Tinyproxy]]:
    if shutil.which("tinyproxy") is None:
        pytest.skip("tinyproxy is not installed (apt-get install tinyproxy)")
    started: list[Tinyproxy] = []
    yield started
    for p in started:
        p.stop()


def test_tls_and_proxy_failures_through_tinyproxy(
    wsnet_node_factory: NodeFactory,
    hubs: dict[str, NodeProcess],
    pki: Pki,
    tmp_path: Path,
    proxies: list[Tinyproxy],
) -> None:
    ports = [h.port for h in hubs.values() if h.port is not None]
    open_proxy = Tinyproxy(tmp_path, ports[0], None, more_ports=ports[1:])
    proxies.append(open_proxy)
    locked = Tinyproxy(tmp_path, ports[0], ("puser", "ppass"))
    proxies.append(locked)
    denying = Tinyproxy(tmp_path, 9, None)  # CONNECT to port 9 only
    proxies.append(denying)
    via = f"http://127.0.0.1:{open_proxy.port}"
    cases = {name: ({**d, "proxy": via}, w) for name, (d, w) in tls_cases(hubs, pki).items()}
    good, dead = hubs["good"], free_port()
    ca = {"ca_file": str(pki.ca.cert)}
    cases["dead proxy"] = (
        {"url": good.url, **ca, "proxy": f"http://127.0.0.1:{dead}"},
        f"proxy 127.0.0.1:{dead} is not reachable: connection refused",
    )
    cases["CONNECT refused"] = (
        {"url": good.url, **ca, "proxy": f"http://127.0.0.1:{denying.port}"},
        f"proxy 127.0.0.1:{denying.port} refused CONNECT 127.0.0.1:{good.port}: 403 ",
    )
    cases["proxy auth"] = (
        {"url": good.url, **ca, "proxy": f"http://puser:not-it-9@127.0.0.1:{locked.port}"},
        "(proxy credentials missing or wrong",
    )
    edge = wsnet_node_factory("edge", listen=False, config={"dial": [d for d, _ in cases.values()]})
    check(edge, cases)
    assert open_proxy.connects() >= 6, "the TLS cases really went through the proxy"
    assert "closed the TLS connection" not in edge.log()
