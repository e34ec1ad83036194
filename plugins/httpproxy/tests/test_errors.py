"""Errors that say where, access control, and bad config: exact statuses and bodies."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from http_helpers import Upstream, curl, entry_exit, route, status_body

from wsnet.testing import NodeFactory, free_port, wait_until


def test_error_statuses_and_bodies(wsnet_node_factory: NodeFactory, upstream: Upstream) -> None:
    dead = free_port()
    routes = [
        route("/px", "G", f"{upstream.base}/x", max_body=1000, read_timeout=1),
        route("/gone", "nowhere", f"{upstream.base}/x"),
        route("/refused", "G", f"http://127.0.0.1:{dead}/"),
        route("/other", "G", "http://127.0.0.2:1/"),
        route("/deny", "G", f"{upstream.base}/x", deny=["127.0.0.0/8"]),
        route("/allow", "G", f"{upstream.base}/x", allow=["10.0.0.0/8", "::1/128"]),
    ]
    g, ell, base = entry_exit(
        wsnet_node_factory,
        upstream,
        routes,
        exit_config={"targets": [f"127.0.0.1:{upstream.port}", f"127.0.0.1:{dead}"]},
    )
    assert status_body(f"{base}/nope") == (404, "no route matches Host 127.0.0.1 path /nope\n")
    assert status_body(f"{base}/pxy") == (404, "no route matches Host 127.0.0.1 path /pxy\n")
    assert status_body(f"{base}/gone/a") == (502, "route gone: node nowhere is unreachable\n")
    assert status_body(f"{base}/refused/") == (
        502,
        f"route refused: node G: upstream 127.0.0.1:{dead}: connection refused\n",
    )
    assert status_body(f"{base}/other/") == (
        502,
        "route other: node G: upstream 127.0.0.2:1 not in [httpproxy] targets\n",
    )
    assert status_body(f"{base}/px/slow?s=5") == (
        504,
        f"route px: node G: upstream 127.0.0.1:{upstream.port} timed out (connect 10s, read 1s)\n",
    )
    big = os.urandom(5000)
    for extra in ((), ("-H", "Transfer-Encoding: chunked")):
        r = subprocess.run(
            [
                "curl",
                "-s",
                "--noproxy",
                "*",
                "-w",
                "\n%{http_code}",
                *extra,
                "--data-binary",
                "@-",
                f"{base}/px/upload",
            ],
            input=big,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert r.stdout.decode() == "route px: request body over 1000 bytes\n\n413", extra
    assert status_body(f"{base}/deny/echo") == (
        403,
        "route deny: client 127.0.0.1 is not allowed\n",
    )
    assert status_body(f"{base}/allow/echo") == (
        403,
        "route allow: client 127.0.0.1 is not allowed\n",
    )
    rows = {r["name"]: r for r in ell.ctl("httproutes")}
    assert rows["px"]["error_status"] == {"413": 2, "504": 1} and rows["px"]["errors"] == 3
    assert rows["gone"]["5xx"] == 1 and rows["deny"]["4xx"] == 1
    assert "413 route px: request body over 1000 bytes" in ell.log()
    # logged on the exit node as well (one line per kind every 10 s)
    assert f"upstream 127.0.0.1:{dead}: connection refused" in g.log()


def test_exit_node_without_the_plugin_is_502(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    g = wsnet_node_factory("G")
    port = free_port()
    lst = {"listen": f"127.0.0.1:{port}", "route": [route("/px", "G", f"{upstream.base}/x")]}
    ell = wsnet_node_factory(
        "L",
        listen=False,
        dial=[g.url],
        plugins=["httpproxy"],
        config={"httpproxy": {"listener": [lst]}},
    )
    wait_until(lambda: "G" in ell.peers(), what="link")
    code, body = status_body(f"http://127.0.0.1:{port}/px/echo")
    assert code == 502 and body.startswith("route px: node G: ") and "http" in body


BAD = [
    ({"listen": "127.0.0.1"}, "[[httpproxy.listener]] #1 listen: expected HOST:PORT"),
    (
        {"listen": "127.0.0.1:1", "route": [{"path": "px", "node": "G", "upstream": "http://h/"}]},
        "[[httpproxy.listener]] #1 [[route]] #1 path: expected a path prefix starting with '/'",
    ),
    (
        {"listen": "127.0.0.1:1", "route": [{"path": "/", "node": "G H", "upstream": "http://h/"}]},
        "[[route]] #1 node: expected a node name",
    ),
    (
        {"listen": "127.0.0.1:1", "route": [{"path": "/", "node": "G", "upstream": "ftp://h/"}]},
        "[[route]] #1 upstream: expected http://HOST[:PORT]/PATH or https://..., got 'ftp://h/'",
    ),
    (
        {
            "listen": "127.0.0.1:1",
            "route": [{"path": "/", "node": "G", "upstream": "http://h/", "timeout": 3}],
        },
        "[[route]] #1 timeout: unknown key",
    ),
    (
        {
            "listen": "127.0.0.1:1",
            "route": [
                {"path": "/", "node": "G", "upstream": "http://h/", "allow": ["10.0.0.300/8"]}
            ],
        },
        "[[route]] #1 allow: entry #1 '10.0.0.300/8'",
    ),
    (
        {
            "listen": "127.0.0.1:1",
            "route": [
                {"path": "/", "node": "G", "upstream": "http://h/"},
                {"path": "/", "node": "H", "upstream": "http://h/"},
            ],
        },
        "[[route]] #2 name: a second route named 'root'",
    ),
]


@pytest.mark.parametrize(("listener", "message"), BAD)
def test_bad_config_names_file_and_key(
    wsnet_node_factory: NodeFactory, listener: dict[str, Any], message: str
) -> None:
    node = wsnet_node_factory(
        "a", plugins=["httpproxy"], start=False, config={"httpproxy": {"listener": [listener]}}
    )
    node.start(wait=False)
    assert node.proc.wait(timeout=60) == 2
    assert f"{node.config_path.name}: " in node.log() and message in node.log(), node.log()


def test_duplicate_listener_is_named(wsnet_node_factory: NodeFactory) -> None:
    two = [{"listen": "127.0.0.1:9"}, {"listen": "127.0.0.1:9"}]
    node = wsnet_node_factory(
        "a", plugins=["httpproxy"], start=False, config={"httpproxy": {"listener": two}}
    )
    node.start(wait=False)
    assert node.proc.wait(timeout=60) == 2
    assert "[[httpproxy.listener]] #2 listen: a second listener on 127.0.0.1:9" in node.log()


def test_https_listener(
    wsnet_node_factory: NodeFactory, upstream: Upstream, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    g = wsnet_node_factory(
        "G",
        plugins=["httpproxy"],
        config={"httpproxy": {"targets": [f"127.0.0.1:{upstream.port}"]}},
    )
    port = free_port()
    lst = {
        "listen": f"127.0.0.1:{port}",
        "tls_cert": str(cert),
        "tls_key": str(key),
        "route": [route("/px", "G", f"{upstream.base}/x")],
    }
    ell = wsnet_node_factory(
        "L",
        listen=False,
        dial=[g.url],
        plugins=["httpproxy"],
        config={"httpproxy": {"listener": [lst]}},
    )
    wait_until(lambda: "G" in ell.peers(), what="link")
    r = curl("--cacert", str(cert), f"https://127.0.0.1:{port}/px/echo")
    assert r.returncode == 0
    headers = {k.lower(): v for k, v in json.loads(r.stdout)["headers"]}
    assert headers["x-forwarded-proto"] == "https"
