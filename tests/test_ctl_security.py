"""The control API over https with htpasswd (Apache's tool) and `wsnet ctl --ctluser`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wsnet.ctl import CtlError, CtlOptions, call
from wsnet.testing import NodeFactory, NodeProcess, free_port, toml_dumps
from wsnet_auth_htpasswd.basic import parse_basic

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki

PASSWORD = "s3cret-Pa55"


def make_htpasswd(path: Path, user: str, password: str, algo: str = "-B") -> None:
    """Apache's htpasswd, the password on stdin (-i) as a careful admin would do it."""
    create = ["-c"] if not path.exists() else []
    subprocess.run(
        ["htpasswd", *create, "-i", algo, str(path), user],
        input=password, check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "ctl.htpasswd"
    make_htpasswd(path, "admin", PASSWORD)
    make_htpasswd(path, "ops", "apr1-pass", "-m")
    return path


def ctl_cli(node: NodeProcess, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", "ctl", "--ctlurl", node.ctlurl, *args],
        capture_output=True, text=True, timeout=30, env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def raw_post(url: str, pki: Pki, auth: str | None) -> urllib.error.HTTPError | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    ctx = CtlOptions(ca_file=str(pki.ca.cert)).ssl_context()
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx):
            return None
    except urllib.error.HTTPError as exc:
        return exc


def test_https_control_api_with_htpasswd(
    wsnet_node_factory: NodeFactory, pki: Pki, users: Path
) -> None:
    node = wsnet_node_factory(
        "a",
        plugins=["log"],
        extra_args=["--ctl-tls-cert", str(pki.server.cert), "--ctl-tls-key", str(pki.server.key),
                    "--ctl-htpasswd", str(users)],
        ctl_options=CtlOptions("admin", PASSWORD, ca_file=str(pki.ca.cert)),
    )  # fmt: skip
    assert node.ctlurl.startswith("https://")
    assert node.ctl("status")["control"] == node.ctlurl

    # No credentials, wrong password, unknown user: 401 with the Basic challenge.
    for auth in (None, "Basic YWRtaW46d3Jvbmc=", "Basic bm9ib2R5OnguLi4=", "Bearer x"):
        err = raw_post(node.ctlurl, pki, auth)
        assert err is not None, auth
        assert err.code == 401
        assert err.headers["WWW-Authenticate"] == 'Basic realm="wsnet control"'

    ca = ["--ca-file", str(pki.ca.cert)]
    res = ctl_cli(node, "status", *ca, env={})
    assert res.returncode == 1
    assert "HTTP 401" in res.stderr
    assert "--ctluser" in res.stderr
    res = ctl_cli(node, "--ctluser", "admin", "status", *ca, env={"WSNET_CTLPASSWORD": "nope"})
    assert res.returncode == 1
    assert "wrong user or password for 'admin'" in res.stderr
    res = ctl_cli(node, "--ctluser", "admin", "status", *ca, env={"WSNET_CTLPASSWORD": PASSWORD})
    assert res.returncode == 0, res.stderr
    assert "node: a" in res.stdout
    # apr1 (MD5) hashes work too, and the user may come from the environment.
    res = ctl_cli(
        node, "links", *ca, env={"WSNET_CTLUSER": "ops", "WSNET_CTLPASSWORD": "apr1-pass"}
    )
    assert res.returncode == 0, res.stderr

    log = node.log()
    assert "auth.failure" in log  # AuthFailure events, through wsnet-log
    assert "wrong user or password for 'admin'" in log
    assert PASSWORD not in log
    assert "nope" not in log


def test_https_needs_the_right_ca_or_insecure(wsnet_node_factory: NodeFactory, pki: Pki) -> None:
    node = wsnet_node_factory(
        "a",
        config={"control": {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}},
        ctl_options=CtlOptions(ca_file=str(pki.ca.cert)),
    )
    with pytest.raises(CtlError, match=r"certificate verify failed.*--ca-file"):
        call(node.ctlurl, "status", options=CtlOptions(ca_file=str(pki.foreign_ca.cert)))
    assert call(node.ctlurl, "status", options=CtlOptions(insecure=True))["node"] == "a"
    res = ctl_cli(node, "--insecure", "status", env={})
    assert res.returncode == 0, res.stderr


def test_users_added_to_the_file_are_accepted_without_restart(
    wsnet_node_factory: NodeFactory, users: Path
) -> None:
    node = wsnet_node_factory(
        "a",
        config={"control": {"htpasswd": str(users)}},
        ctl_options=CtlOptions("admin", PASSWORD),
    )
    late = CtlOptions("late", "later-pass")
    with pytest.raises(CtlError, match="HTTP 401"):
        call(node.ctlurl, "status", options=late)
    make_htpasswd(users, "late", "later-pass")
    os.utime(users, (1, 2**31 - 1))  # a certain mtime change, even within one second
    assert call(node.ctlurl, "status", options=late)["node"] == "a"


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("admin:$apr1$short\nbroken line without colon\n", "line"),
        (None, "No such file"),
    ],
)
def test_bad_htpasswd_file_names_file_and_key(
    tmp_path: Path, content: str | None, where: str
) -> None:
    path = tmp_path / "bad.htpasswd"
    if content is not None:
        path.write_text(content)
    cfg = tmp_path / "node.toml"
    cfg.write_text(toml_dumps({"control": {"htpasswd": str(path)}}))
    for args, prefix in (
        (["--config", str(cfg)], f"{cfg}: [control] htpasswd: "),
        (["--ctl-htpasswd", str(path)], "command line: --ctl-htpasswd: "),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "wsnet", "run", "--listen", "none",
             "--ctl-port", str(free_port()), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert res.returncode == 2, res.stderr
        assert prefix in res.stderr
        assert str(path) in res.stderr
        assert where in res.stderr


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic YWRtaW46czNjcmV0OndpdGg6Y29sb25z", ("admin", "s3cret:with:colons")),
        ("basic   YWRtaW46  ", ("admin", "")),
        ("Basic bm9jb2xvbg==", None),  # "nocolon"
        ("Basic !!!", None),
        ("Bearer YWRtaW46eA==", None),
        ("", None),
    ],
)
def test_parse_basic(header: str, expected: tuple[str, str] | None) -> None:
    assert parse_basic(header) == expected
