"""Issue 14 broken on purpose, as a newcomer, a third-party plugin author and an attacker would.

The probe plugins are real distributions (a ``.dist-info`` with entry points beside their
modules, on the PYTHONPATH of a `wsnet run` process), found by importlib.metadata exactly as
an installed wheel is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from probe_plugins import probe_site, wsnet_run
from wsnet.ctl import CtlOptions
from wsnet.testing import NodeFactory, wait_until

PROBES = {
    # A plugin whose per-node object cannot be made: one line naming it, not a traceback.
    "nodefail": "def wsnet_node_plugin(node):\n    raise RuntimeError('no object today')\n",
    # A per-node object with a misspelt hook: refused, not silently never called.
    "typo": (
        "class Obj:\n    def wsnet_regster_services(self):\n        return []\n"
        "def wsnet_node_plugin(node):\n    return Obj()\n"
    ),
    # A module hook that raises: the plugin named.
    "svcfail": "def wsnet_register_services(node):\n    raise KeyError('greeting')\n",
    "broken": "raise ImportError('broken on purpose')\n",
    "needsbroken": "WSNET_REQUIRES = ('broken',)\n",
}


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    return probe_site(tmp_path / "site", "wsnet-probe-breaker14", PROBES, "b14probe_")


@pytest.mark.parametrize(
    ("plugins", "line"),
    [
        ("nodefail", "wsnet: error: plugin 'nodefail' failed in wsnet_node_plugin: "
                     "RuntimeError: no object today"),
        ("svcfail", "wsnet: error: plugin 'svcfail' failed in wsnet_register_services: "
                    "KeyError: 'greeting'"),
        ("needsbroken", "wsnet: error: command line: --plugins: plugin 'needsbroken' requires "
                        "'broken': plugin 'broken' (b14probe_broken) failed to load: "
                        "ImportError: broken on purpose"),
        ("diag,-diag", "wsnet: error: command line: --plugins: 'diag' and '-diag': the plugin "
                       "list names both"),
    ],
)  # fmt: skip
def test_a_broken_plugin_stops_start_up_with_one_line_naming_it(
    probes: Path, plugins: str, line: str
) -> None:
    res = wsnet_run(probes, "--plugins", plugins)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == line


def test_a_misspelt_hook_on_a_node_object_is_refused(probes: Path) -> None:
    res = wsnet_run(probes, "--plugins", "typo")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "unknown hook 'wsnet_regster_services'" in res.stderr


def test_naming_the_default_plugin_is_not_an_unknown_plugin(
    wsnet_node_factory: NodeFactory,
) -> None:
    node = wsnet_node_factory("a", plugins=["diag", "tcp"])
    status = node.ctl("status")
    assert {"echo", "sink", "tcp"} <= set(status["services"])


@pytest.fixture
def users(tmp_path: Path) -> Path:
    if shutil.which("htpasswd") is None:
        pytest.skip("Apache's htpasswd (apache2-utils) is not installed")
    path = tmp_path / "ctl.htpasswd"
    subprocess.run(["htpasswd", "-c", "-i", "-B", str(path), "admin"], input="admin-pw-b14",
                   check=True, capture_output=True, text=True, timeout=30)  # fmt: skip
    return path


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Protocol": "wsnet",
}


def _status(url: str, header: str) -> int:
    """The HTTP status of a control POST, or a link's WebSocket upgrade, to ``url`` with
    ``Authorization: header`` (sent as latin-1, as urllib does: a byte above 127 is what an
    attacker can put there)."""
    link = url.endswith("/wsnet")
    req = urllib.request.Request(
        url,
        data=None if link else b"{}",
        method="GET" if link else "POST",
        headers={**(UPGRADE if link else {}), "Authorization": header},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_non_ascii_basic_token_is_401_not_a_500_with_a_traceback(
    wsnet_node_factory: NodeFactory, users: Path
) -> None:
    node = wsnet_node_factory(
        "a", plugins=["auth_htpasswd"], extra_args=["--ctl-htpasswd", str(users)],
        config={"auth_htpasswd": {"file": str(users)}},
        ctl_options=CtlOptions("admin", "admin-pw-b14"),
    )  # fmt: skip
    link_url = node.url.replace("ws://", "http://")
    for url in (node.ctlurl, link_url):
        assert _status(url, "Basic \xff\xfe") == 401, url
        assert _status(url, "Basic é=") == 401, url
    assert node.ctl("status")["node"] == "a"  # and the right password still gets in
    log = node.log()
    assert "Traceback" not in log and "only ASCII" not in log


def test_credentials_in_the_ctl_url_are_refused_in_one_line_without_the_password(
    wsnet_node_factory: NodeFactory,
) -> None:
    node = wsnet_node_factory("a")
    port = node.ctlurl.split(":")[2].split("/")[0]
    for url in (f"http://admin:s3cret-b14@127.0.0.1:{port}/rpc",
                f"admin:s3cret-b14@127.0.0.1:{port}"):  # fmt: skip
        res = subprocess.run([sys.executable, "-m", "wsnet", "ctl", "status", "--ctlurl", url],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert res.returncode == 1, res.stderr
        assert "s3cret-b14" not in res.stdout + res.stderr
        assert res.stderr.count("\n") == 1
        assert "no user or password in the URL; give --ctluser NAME" in res.stderr
    res = subprocess.run([sys.executable, "-m", "wsnet", "ctl", "status", "--ctlurl",
                          "http://[::1"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.stderr.strip() == "wsnet ctl: --ctlurl 'http://[::1': Invalid IPv6 URL"
    wait_until(lambda: node.ctl("status")["node"] == "a", what="the node still answers")


def test_a_misspelt_public_name_is_a_type_error(tmp_path: Path) -> None:
    """`wsnet` loads its names lazily; type checkers must still see only the public ones."""
    probe = tmp_path / "probe_plugin.py"
    probe.write_text("from wsnet import StreamService, StreamServce\n")
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(probe)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 1, res.stdout
    assert 'Module "wsnet" has no attribute "StreamServce"' in res.stdout
    assert "Found 1 error in 1 file" in res.stdout  # the real name is known
