"""Issue 15 seen by an attacker, the findings that need other plugins (auth_htpasswd):
each test fails on the code before its fix."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# the plugin's own test helpers (http_helpers, upstream_app) and its upstream fixture
HELPERS = Path(__file__).resolve().parents[1] / "plugins" / "httpproxy" / "tests"
sys.path.insert(0, str(HELPERS))

import pytest  # noqa: E402
from http_helpers import Upstream, entry_exit, route, run_upstream, status_body  # noqa: E402

from wsnet.testing import NodeFactory  # noqa: E402


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with run_upstream() as up:
        yield up


def test_the_nodes_login_is_not_sent_upstream(
    wsnet_node_factory: NodeFactory, upstream: Upstream, tmp_path: Path
) -> None:
    """Before the fix the upstream got `Authorization: Basic alice:alice-pw`: a password
    of the entry node's htpasswd file, which opens links to that node too."""
    users = tmp_path / "users"
    subprocess.run(
        ["htpasswd", "-cbB", "-C", "4", str(users), "alice", "alice-pw"],
        check=True,
        capture_output=True,
    )
    authz: dict[str, Any] = {"principal": {"alice": {"open": ["http:px"]}}}
    routes = [
        route("/px", "G", f"{upstream.base}/x", auth=True),
        route("/open", "G", f"{upstream.base}/x"),  # no auth: the upstream's own login passes
    ]
    _, _, base = entry_exit(
        wsnet_node_factory,
        upstream,
        routes,
        entry_config={"auth_htpasswd": {"file": str(users)}, "authz": authz},
        plugins=["httpproxy", "auth_htpasswd"],
    )
    for path, sent in (("/px/echo", False), ("/open/echo", True)):
        code, body = status_body(base + path, "-u", "alice:alice-pw")
        names = [k.lower() for k, _ in json.loads(body)["headers"]]
        assert code == 200 and ("authorization" in names) == sent, (path, names)
