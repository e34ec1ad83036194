"""tcp-over-websocket configs, written the way its README writes them, translated by
`wsnet tcp from-tow` and run as they are: the same tunnels and the same HA behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wsnet.testing import NodeProcess, free_port, wait_until
from wsnet.testing_tcp import ident_handler, server_thread, who_answers

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki


def tow_configs(link: int, ports: dict[str, int], idents: dict[str, int]) -> dict[str, Any]:
    """Server + clients 1 and 2 as in tcp-over-websocket's README, on loopback."""
    exchange = {"serverUrl": f"http://127.0.0.1:{link}", "enableMutualTLS": False}
    logging = {"daysToKeep": 14, "level": "DEBUG", "logToStdout": True}
    server = {
        "dataExchange": exchange, "logging": logging, "weAreServer": True,
        "standbySocketCloseDurationSecs": 2,
        "tcpTunnelConnects": [{"connectToHost": "127.0.0.1", "connectToPort": idents["ext"],
                               "tunnelName": "duckduckgo"}],
        "tcpTunnelListens": [{"listenBindAddress": "127.0.0.1", "listenPort": ports["ssh"],
                              "tunnelName": "test_ssh"}],
    }  # fmt: skip
    clients = {
        n: {"dataExchange": exchange, "weAreServer": False, "clientId": n,
            "tcpTunnelConnects": [{"connectToHost": "127.0.0.1",
                                   "connectToPort": idents[f"client{n}"],
                                   "tunnelName": "test_ssh"}],
            "tcpTunnelListens": [{"listenBindAddress": "127.0.0.1",
                                  "listenPort": ports[f"ddg{n}"], "tunnelName": "duckduckgo"}]}
        for n in (1, 2)
    }  # fmt: skip
    return {"server": server, "client1": clients[1], "client2": clients[2]}


def translate(tmp: Path, name: str, cfg: dict[str, Any]) -> Path:
    src = tmp / f"{name}.json"
    src.write_text(json.dumps(cfg, indent=2))
    res = subprocess.run([sys.executable, "-m", "wsnet", "tcp", "from-tow", str(src)],
                         capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    out = tmp / f"{name}.toml"
    # Test-speed keepalive, as every end-to-end test uses; nothing else is added.
    out.write_text(res.stdout + "\n[keepalive]\ninterval = 0.5\ntimeout = 2.0\n")
    return out


@pytest.fixture
def nodes(tmp_path: Path) -> Any:
    started: list[NodeProcess] = []
    yield started
    for n in started:
        n.kill()


def run_node(tmp: Path, name: str, config: Path, started: list[NodeProcess]) -> NodeProcess:
    ctl = free_port()
    argv = [sys.executable, "-m", "wsnet", "run", "--config", str(config), "--ctl-port", str(ctl)]
    node = NodeProcess(name, None, ctl, config, tmp / f"{name}.log", argv, dict(os.environ))
    started.append(node)
    return node.start()


def test_readme_configs_translate_and_behave(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    link = free_port()
    ports = {"ssh": free_port(), "ddg1": free_port(), "ddg2": free_port()}
    with ExitStack() as stack:
        idents = {n: stack.enter_context(server_thread(ident_handler(n.encode()))).port
                  for n in ("ext", "client1", "client2")}  # fmt: skip
        cfgs = tow_configs(link, ports, idents)
        toml = {n: translate(tmp_path, n, c) for n, c in cfgs.items()}
        text = toml["server"].read_text()
        assert 'peer = "clients"' in text and "promote_on_activity = true" in text
        assert "# not translated: logging" in text
        assert f'url = "ws://127.0.0.1:{link}/wsnet"' in toml["client2"].read_text()
        server = run_node(tmp_path, "server", toml["server"], nodes)
        c1 = run_node(tmp_path, "client1", toml["client1"], nodes)
        wait_until(lambda: who_answers(ports["ssh"]) == "client1", what="server → client1")
        run_node(tmp_path, "client2", toml["client2"], nodes)
        # Each client's listen tunnel reaches the server's connect side.
        wait_until(lambda: who_answers(ports["ddg2"]) == "ext", what="client2 → server")
        # ... and that activity made client2 the active client, as in tcp-over-websocket.
        wait_until(lambda: who_answers(ports["ssh"]) == "client2", what="client2 promoted")
        rows = {r["member"]: r for r in server.ctl("ha")}
        assert rows["client2"]["state"] == "active" and rows["client2"]["last_cause"] == "promotion"
        # standbySocketCloseDurationSecs = 2: client1's listener closes, then reopens.
        wait_until(lambda: who_answers(ports["ddg1"], timeout=0.5) == "", what="closed")
        wait_until(lambda: who_answers(ports["ddg1"]) == "ext", timeout=8, what="reopened")
        assert c1.peers() == {"server"}


def tow_bundle(out: Path, *parts: Path) -> Path:
    """`cat Root.crt CA.crt MyCert.{crt,key} > bundle.pem`, as tcp-over-websocket's README says."""
    out.write_text("".join(p.read_text() for p in parts))
    return out


def test_mutual_tls_config_translates_and_carries_bytes(
    tmp_path: Path, nodes: list[NodeProcess], pki: Pki
) -> None:
    """Server and client 1 with enableMutualTLS, files laid out as the README lays them out."""
    link, ssh = free_port(), free_port()
    srv, cli = tmp_path / "tcp_svr", tmp_path / "tcp_cli"
    srv.mkdir(), cli.mkdir()
    trusted = tow_bundle(srv / "trusted-ca.pem", pki.ca.cert)  # the clients' root (and CA)
    exchange = {"serverUrl": f"https://127.0.0.1:{link}", "enableMutualTLS": True}
    server_x = {
        **exchange,
        "mutualTLSTrustedCACertificateBundleFilePath": str(trusted),
        "mutualTLSTrustedPeerCertificateBundleFilePath": str(
            tow_bundle(srv / "certs-of-peers.pem", pki.client.cert, pki.client.key)
        ),
        "tlsBundleFilePath": str(
            tow_bundle(
                srv / "key-cert-ca-root-chain.pem", pki.ca.cert, pki.server.cert, pki.server.key
            )
        ),
    }
    client_x = {
        **exchange,
        "mutualTLSTrustedCACertificateBundleFilePath": str(
            tow_bundle(cli / "trusted-ca.pem", pki.ca.cert)
        ),
        "mutualTLSTrustedPeerCertificateBundleFilePath": str(
            tow_bundle(cli / "certs-of-peers.pem", pki.server.cert, pki.server.key)
        ),
        "tlsBundleFilePath": str(
            tow_bundle(
                cli / "key-cert-ca-root-chain.pem", pki.ca.cert, pki.client.cert, pki.client.key
            )
        ),
    }
    with server_thread(ident_handler(b"client1")) as ident:
        server = {
            "dataExchange": server_x,
            "weAreServer": True,
            "tcpTunnelListens": [
                {"listenBindAddress": "127.0.0.1", "listenPort": ssh, "tunnelName": "test_ssh"}
            ],
        }
        client = {
            "dataExchange": client_x,
            "weAreServer": False,
            "clientId": 1,
            "tcpTunnelConnects": [
                {
                    "connectToHost": "127.0.0.1",
                    "connectToPort": ident.port,
                    "tunnelName": "test_ssh",
                }
            ],
        }
        toml = {
            "server": translate(srv, "config", server),
            "client1": translate(cli, "config", client),
        }
        s_text, c_text = toml["server"].read_text(), toml["client1"].read_text()
        assert '"mtls"' in s_text and f'pinned = ["{srv}/certs-of-peers.pem"]' in s_text
        assert "[authz.principal.client-1]" in s_text  # its CN may claim "client1"
        assert f'tls_cert = "{srv}/server-cert.pem"' in s_text
        assert f'cert_file = "{cli}/client1-cert.pem"' in c_text
        assert f'key_file = "{cli}/client1-key.pem"' in c_text and f'ca_file = "{cli}' in c_text
        assert "does not pin it" in c_text  # the client's peer bundle has no wsnet equivalent
        assert (cli / "client1-key.pem").stat().st_mode & 0o077 == 0
        hub = run_node(tmp_path, "server", toml["server"], nodes)
        run_node(tmp_path, "client1", toml["client1"], nodes)
        wait_until(lambda: who_answers(ssh) == "client1", what="bytes through the mTLS tunnel")
        (row,) = hub.ctl("links")
        assert row["principal"] == "client-1", row  # the link was authenticated by certificate
