"""wsnet-httpproxy with other plugins: HTTP Basic from wsnet-auth-htpasswd with [authz]
grants, and the error event reaching wsnet-log (an observer)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# the plugin's own test helpers (http_helpers, upstream_app) and its upstream fixture
HELPERS = Path(__file__).resolve().parents[1] / "plugins" / "httpproxy" / "tests"
sys.path.insert(0, str(HELPERS))

import pytest  # noqa: E402
from http_helpers import Upstream, curl, entry_exit, route, run_upstream, status_body  # noqa: E402

from wsnet.testing import NodeFactory, wait_until  # noqa: E402


@pytest.fixture
def upstream() -> Any:
    with run_upstream() as up:
        yield up


def _htpasswd(path: Path, user: str, password: str) -> None:
    subprocess.run(
        ["htpasswd", "-cbB", "-C", "4", str(path), user, password], check=True, capture_output=True
    )


def test_basic_auth_and_authz(
    wsnet_node_factory: NodeFactory, upstream: Upstream, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    _htpasswd(users, "alice", "alice-pw")
    subprocess.run(
        ["htpasswd", "-bB", "-C", "4", str(users), "bob", "bob-pw"], check=True, capture_output=True
    )
    authz: dict[str, Any] = {"principal": {"alice": {"open": ["http:px"]}, "bob": {"open": []}}}
    _, entry, base = entry_exit(
        wsnet_node_factory,
        upstream,
        [route("/px", "G", f"{upstream.base}/x", auth=True)],
        entry_config={"auth_htpasswd": {"file": str(users)}, "authz": authz},
        plugins=["httpproxy", "auth_htpasswd"],
    )
    r = curl("-D", "-", f"{base}/px/echo")
    assert (
        r.stdout.startswith(b"HTTP/1.1 401")
        and b'WWW-Authenticate: Basic realm="wsnet"' in r.stdout
    )
    assert r.stdout.endswith(b"route px: authentication required\n")
    code, body = status_body(f"{base}/px/echo", "-u", "alice:guess-7f3a")
    assert code == 401 and body.startswith("route px: authentication refused: ")
    # the node's one authenticator chain: logged (user named, never the password) and counted
    wait_until(lambda: "route px: refused a request from 127.0.0.1" in entry.log(), what="log")
    assert "alice" in entry.log() and "guess-7f3a" not in entry.log()
    assert status_body(f"{base}/px/echo", "-u", "bob:bob-pw")[0] == 403
    code, body = status_body(f"{base}/px/echo", "-u", "alice:alice-pw")
    assert code == 200 and '"x-forwarded-for"' in body.lower()


def test_refusals_come_before_100_continue_and_unreachable_is_immediate(
    wsnet_node_factory: NodeFactory, upstream: Upstream
) -> None:
    routes = [
        route("/px", "G", f"{upstream.base}/x", max_body=1000),
        route("/gone", "nowhere", f"{upstream.base}/x"),
    ]
    _, ell, base = entry_exit(wsnet_node_factory, upstream, routes, plugins=["httpproxy", "log"])
    body = os.urandom(4000)
    r = curl(
        "-v", "-H", "Expect: 100-continue", "--data-binary", "@-", f"{base}/px/upload", stdin=body
    )
    assert b"< HTTP/1.1 413" in r.stderr and b"100 Continue" not in r.stderr
    assert r.stdout == b"route px: request body over 1000 bytes\n"
    t0 = time.monotonic()
    assert status_body(f"{base}/gone/")[0] == 502
    assert time.monotonic() - t0 < 2.0  # at once, not after a timeout
    # observers get the HttpProxyError event (the log plugin writes it)
    wait_until(
        lambda: "http.error" in ell.log() and "route gone: node nowhere" in ell.log(),
        what="http.error event",
    )
