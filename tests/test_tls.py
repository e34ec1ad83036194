"""wss:// links with real certificates made by `openssl`: traffic, refusals, flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wsnet.testing import NodeFactory, free_port, toml_dumps, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki


def wsnet(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=timeout
    )


def tls_listen(pki: Pki) -> dict[str, dict[str, str]]:
    return {"listen": {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}}


def test_wss_link_carries_traffic(wsnet_node_factory: NodeFactory, pki: Pki) -> None:
    a = wsnet_node_factory("a", config=tls_listen(pki))
    assert a.url.startswith("wss://")
    assert a.ctl("status")["listen"] == a.url
    b = wsnet_node_factory(
        "b", listen=False, dial=[], extra_args=["--dial", a.url, "--ca-file", str(pki.ca.cert)]
    )
    wait_until(lambda: "a" in b.peers(), what="wss link b->a")
    assert b.ctl("ping", "a", 3)["count"] == 3
    result = b.ctl("speedtest", "a", 2_000_000)
    assert result["ok"]
    assert result["bytes"] == 2_000_000
    # Plain ws:// to a TLS listener does not link (the server wants a TLS handshake).
    c = wsnet_node_factory("c", listen=False, dial=[a.url.replace("wss://", "ws://")])
    wait_until(lambda: c.ctl("dials")[0]["attempts"] >= 2, what="c retries")
    assert "c" not in a.peers()


def test_wrong_ca_fails_with_reason_and_keeps_retrying(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    a = wsnet_node_factory("a", config=tls_listen(pki))
    b = wsnet_node_factory(
        "b", listen=False, config={"dial": [{"url": a.url, "ca_file": str(pki.foreign_ca.cert)}]}
    )

    def failing() -> dict[str, object] | None:
        (dial,) = b.ctl("dials")
        return dial if dial["attempts"] >= 3 and dial["state"] != "up" else None

    dial = wait_until(failing, timeout=15, what="three failed attempts")
    error = str(dial["last_error"])
    assert "certificate verify failed" in error
    assert a.url in error
    assert str(pki.foreign_ca.cert) in error
    assert f"dial {a.url}: TLS certificate verify failed for {a.url}" in b.log()
    assert a.ctl("links") == []


def test_insecure_encrypts_and_warns_once_per_entry(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    port = free_port()
    a = wsnet_node_factory("a", config=tls_listen(pki), port=port, start=False)
    # b starts first: its first attempts fail (nothing listens), then it links.
    b = wsnet_node_factory("b", listen=False, extra_args=["--dial", a.url, "--insecure"])
    wait_until(lambda: b.ctl("dials")[0]["attempts"] >= 2, what="failed attempts")
    a.start()
    wait_until(lambda: "a" in b.peers(), what="insecure link")
    assert b.ctl("ping", "a", 1)["count"] == 1
    warnings = [line for line in b.log().splitlines() if "NOT verified" in line]
    assert len(warnings) == 1, b.log()
    assert a.url in warnings[0]
    assert "WARNING" in warnings[0]


def _bad_files(tmp: Path, pki: Pki) -> dict[str, Path]:
    files = {
        "garbage": tmp / "garbage.pem",
        "badcert": tmp / "badcert.pem",
        "missing": tmp / "missing.pem",
        "encrypted": tmp / "encrypted.key",
    }
    files["garbage"].write_text("hello\n")
    files["badcert"].write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    subprocess.run(
        ["openssl", "pkey", "-in", str(pki.server.key), "-aes256", "-passout", "pass:x",
         "-out", str(files["encrypted"])],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return files


@pytest.mark.parametrize(
    ("section", "cert", "key", "bad_key", "message"),
    [
        ("listen", "garbage", "server.key", "tls_cert", "not a PEM certificate"),
        ("listen", "badcert", "server.key", "tls_cert", "malformed certificate"),
        ("listen", "missing", "server.key", "tls_cert", "No such file or directory"),
        ("listen", "server.pem", "missing", "tls_key", "No such file or directory"),
        ("listen", "server.pem", "garbage", "tls_key", "not a PEM private key"),
        ("listen", "server.pem", "client.key", "tls_key", "does not match the certificate"),
        ("listen", "server.pem", "encrypted", "tls_key", "the private key is encrypted"),
        ("control", "server.pem", "garbage", "tls_key", "not a PEM private key"),
        ("control", "garbage", "server.key", "tls_cert", "not a PEM certificate"),
    ],
)
def test_bad_cert_or_key_in_config_names_file_and_key(
    tmp_path: Path, pki: Pki, section: str, cert: str, key: str, bad_key: str, message: str
) -> None:
    files = _bad_files(tmp_path, pki)
    paths = {
        name: str(files[name]) if name in files else str(pki.dir / name) for name in (cert, key)
    }
    cfg = tmp_path / "node.toml"
    cfg.write_text(toml_dumps({section: {"tls_cert": paths[cert], "tls_key": paths[key]}}))
    res = wsnet("run", "--config", str(cfg), "--ctl-port", str(free_port()))
    assert res.returncode == 2, res.stderr
    bad_file = paths[cert] if bad_key == "tls_cert" else paths[key]
    assert res.stderr.startswith(f"wsnet: error: {cfg}: [{section}] {bad_key}: '{bad_file}': ")
    assert message in res.stderr


def test_bad_tls_flags_name_flag_and_file(tmp_path: Path, pki: Pki) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("x\n")
    cert, key = str(pki.server.cert), str(pki.server.key)
    cases = [
        (["--tls-cert", cert], "command line: --tls-key: required with --tls-cert"),
        (["--tls-cert", cert, "--tls-key", str(garbage)], f"--tls-key: '{garbage}': not a PEM"),
        (["--ctl-tls-cert", str(garbage), "--ctl-tls-key", key], f"--ctl-tls-cert: '{garbage}'"),
        (["--dial", "wss://h/", "--ca-file", str(garbage)], f"--ca-file: '{garbage}': not a PEM"),
        (["--dial", "wss://h/", "--key", key], "--key: needs --cert"),
        (["--listen", "none", "--tls-cert", cert, "--tls-key", key], "does not listen"),
        (["--insecure"], "command line: --insecure: applies to --dial URLs and none is given"),
    ]
    for args, message in cases:
        res = wsnet("run", "--ctl-port", str(free_port()), *args)
        assert res.returncode == 2, (args, res.stderr)
        assert message in res.stderr, (args, res.stderr)


def test_bad_dial_tls_options_name_entry_and_key(tmp_path: Path, pki: Pki) -> None:
    cfg = tmp_path / "node.toml"
    missing = tmp_path / "nope.pem"
    dial = {"url": "wss://127.0.0.1:1/wsnet", "cert_file": str(missing)}
    cfg.write_text(toml_dumps({"dial": [dial]}))
    res = wsnet("run", "--config", str(cfg), "--listen", "none", "--ctl-port", str(free_port()))
    assert res.returncode == 2
    assert f"{cfg}: [[dial]] #1 cert_file: '{missing}': No such file or directory" in res.stderr


def test_dial_at_run_time_takes_tls_options(wsnet_node_factory: NodeFactory, pki: Pki) -> None:
    """`wsnet ctl dial wss://... ca_file=...`: the run-time twin of a [[dial]] entry."""
    a = wsnet_node_factory("a", config=tls_listen(pki))
    # Options that read files at run time: for an API without users, only with this key.
    files = {"control": {"allow_file_options": True}}
    b = wsnet_node_factory("b", listen=False, config=files)
    bad = wsnet("ctl", "--ctlurl", b.ctlurl, "dial", a.url, "ca_file=/nonexistent/ca.pem")
    assert bad.returncode == 1
    assert "dial: ca_file: " in bad.stderr and "No such file or directory" in bad.stderr
    half = wsnet("ctl", "--ctlurl", b.ctlurl, "dial", a.url, f"key_file={pki.client.key}")
    assert half.returncode == 1 and "key_file: needs cert_file" in half.stderr
    assert b.ctl("dials") == []  # nothing was started by the refused calls
    ok = wsnet("ctl", "--ctlurl", b.ctlurl, "dial", a.url, f"ca_file={pki.ca.cert}")
    assert ok.returncode == 0, ok.stderr
    wait_until(lambda: "a" in b.peers(), what="wss link dialled at run time")
    assert b.ctl("ping", node="a", count=2)["count"] == 2
