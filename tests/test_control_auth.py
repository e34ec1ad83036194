"""One auth path: the control API is guarded by the authenticator chain of the "control"
scope, like links by the "link" scope.  Real nodes, real certificates (openssl, wsnet.testing_pki's
pki), a real third-party plugin pip-installed into a directory of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, toml_dumps, wait_until

if TYPE_CHECKING:
    from wsnet.testing_pki import Pair, Pki

GRANTS = {"principal": {"client-1": {"call": ["status", "dial"]}, "client-2": {"call": ["*"]},
                        "robot": {"call": ["status", "dial"]}}}  # fmt: skip


def rpc(url: str, method: str, params: Any = None, *, context: ssl.SSLContext | None = None,
        headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """One JSON-RPC call over a socket of its own; the reply object (result or error)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    head = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=head)
    with urllib.request.urlopen(req, timeout=30, context=context) as resp:
        reply: dict[str, Any] = json.loads(resp.read())
        return reply


def client_context(pki: Pki, pair: Pair | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    if pair is not None:
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
    return ctx


def start(node: NodeProcess, ready: Any) -> NodeProcess:
    """Start ``node`` and wait until ``ready()`` (the factory's own check has no client cert)."""
    node.start(wait=False)

    def up() -> bool:
        if node.proc is not None and node.proc.poll() is not None:
            raise RuntimeError(f"node {node.name} exited:\n{node.log()}")
        try:
            return bool(ready())
        except OSError:
            return False

    wait_until(up, timeout=20, what=f"node {node.name} control API")
    return node


def refused(url: str, context: ssl.SSLContext) -> bool:
    """True when the control API would not even answer (TLS handshake or connection refused)."""
    try:
        rpc(url, "status", context=context)
    except urllib.error.HTTPError:
        return False  # an HTTP answer: the TLS handshake went through
    except OSError:
        return True
    return False


def test_mtls_guards_the_control_api_and_names_the_caller(
    wsnet_node_factory: NodeFactory, pki: Pki
) -> None:
    tls = {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key)}
    node = wsnet_node_factory(  # links without TLS: [mtls] scopes = ["control"] alone
        "a", plugins=["mtls"], start=False,
        config={"control": tls, "mtls": {"ca_file": str(pki.ca.cert), "scopes": ["control"]},
                "authz": GRANTS},
    )  # fmt: skip
    one, two = client_context(pki, pki.client), client_context(pki, pki.client2)
    start(node, lambda: rpc(node.ctlurl, "status", context=one))
    assert node.ctlurl.startswith("https://")

    # No certificate, or one of another CA: not even an HTTP answer.
    assert refused(node.ctlurl, client_context(pki, None))
    assert refused(node.ctlurl, client_context(pki, pki.foreign_client))

    # The certificate's CN is the caller: [authz] call grants are checked against it.
    assert rpc(node.ctlurl, "status", context=one)["result"]["node"] == "a"
    denied = rpc(node.ctlurl, "links", context=one)["error"]
    assert denied["code"] == -32003
    assert "may not call 'links'" in denied["message"]
    assert rpc(node.ctlurl, "links", context=two)["result"] == []
    # ... and METHOD:files grants too (control_caller() is the mTLS principal).
    dial = {"url": f"ws://127.0.0.1:{free_port()}/wsnet", "ca_file": str(pki.ca.cert)}
    files = rpc(node.ctlurl, "dial", dial, context=one)["error"]
    assert "'client-1' needs the call grant 'dial:files'" in files["message"]
    # The link listener stays as it was: plain ws://, anyone may link (no link scope).
    assert not node.tls


def test_mtls_control_scope_needs_tls_on_the_control_api(tmp_path: Path, pki: Pki) -> None:
    cfg = tmp_path / "node.toml"
    mtls = {"ca_file": str(pki.ca.cert), "scopes": ["control"]}
    cfg.write_text(toml_dumps({"node": {"plugins": ["mtls"]}, "mtls": mtls}))
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "run", "--config", str(cfg), "--listen", "none",
         "--ctl-port", str(free_port())],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert f"{cfg}: [mtls] scopes: " in res.stderr
    assert "need TLS on the control API" in res.stderr
    mtls["scopes"] = ["admin"]
    cfg.write_text(toml_dumps({"node": {"plugins": ["mtls"]}, "mtls": mtls}))
    res = subprocess.run([sys.executable, "-m", "wsnet", "run", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "[mtls] scopes: expected some of" in res.stderr


TOKEN_PLUGIN = '''
"""A third-party authenticator for the control API only; it imports only wsnet's public API."""
from __future__ import annotations

from wsnet import Authenticator, AuthRefused, Principal

SEEN = "{seen}"


class TokenAuthenticator(Authenticator):
    name = "token"
    scopes = frozenset({{"control"}})

    async def authenticate(self, request):
        with open(SEEN, "a") as fh:  # what this authenticator was asked about
            fh.write(request.method + " " + request.path + "\\n")
        token = request.headers.get("X-Token")
        if token is None:
            return None
        if token != "let-me-in":
            raise AuthRefused("bad token", 401)
        return Principal("robot", "token")

    def challenge(self):
        return {{"X-Token-Required": "yes"}}


def wsnet_register_authenticators(node):
    return [TokenAuthenticator()]
'''


@pytest.fixture(scope="module")
def token_plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The plugin pip-installed into a directory of its own (put on PYTHONPATH of the nodes
    only: the shared environment, and other tests, never see it); (that dir, seen-file)."""
    src, target = tmp_path_factory.mktemp("tokensrc"), tmp_path_factory.mktemp("tokensite")
    seen = target / "seen.txt"
    (src / "wsnet_token.py").write_text(TOKEN_PLUGIN.format(seen=seen))
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "wsnet-token-probe"
        version = "0.0.1"

        [project.entry-points."wsnet.plugins"]
        token = "wsnet_token"

        [tool.setuptools]
        py-modules = ["wsnet_token"]
        """))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install",
         "--no-build-isolation", "--no-deps", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return target, seen


@pytest.fixture
def users(tmp_path: Path) -> Path:
    if shutil.which("htpasswd") is None:
        pytest.skip("Apache's htpasswd (apache2-utils) is not installed")
    path = tmp_path / "ctl.htpasswd"
    subprocess.run(["htpasswd", "-c", "-i", "-B", str(path), "admin"], input="admin-pw-4f1",
                   check=True, capture_output=True, text=True, timeout=30)  # fmt: skip
    return path


def test_a_plugin_authenticator_sees_control_requests(
    wsnet_node_factory: NodeFactory, token_plugin: tuple[Path, Path], users: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    target, seen = token_plugin
    seen.unlink(missing_ok=True)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])
    )
    # The plugin's token and the htpasswd shorthand, in one chain: either lets a caller in.
    node = wsnet_node_factory("a", plugins=["token"], start=False,
                              extra_args=["--ctl-htpasswd", str(users)],
                              config={"authz": GRANTS})  # fmt: skip
    token = {"X-Token": "let-me-in"}
    start(node, lambda: rpc(node.ctlurl, "status", headers=token))

    assert rpc(node.ctlurl, "status", headers=token)["result"]["node"] == "a"
    assert "POST /rpc" in seen.read_text()
    denied = rpc(node.ctlurl, "links", headers=token)["error"]  # robot may not: [authz]
    assert "may not call 'links'" in denied["message"]
    files = rpc(node.ctlurl, "dial", {"url": f"ws://127.0.0.1:{free_port()}/wsnet",
                                      "ca_file": str(users)}, headers=token)["error"]  # fmt: skip
    assert "'robot' needs the call grant 'dial:files'" in files["message"]

    # Neither a token nor a password: 401 with both challenges; a bad token: the plugin's.
    with pytest.raises(urllib.error.HTTPError) as err:
        rpc(node.ctlurl, "status")
    assert err.value.code == 401
    assert err.value.headers["X-Token-Required"] == "yes"
    assert err.value.headers["WWW-Authenticate"] == 'Basic realm="wsnet control"'
    with pytest.raises(urllib.error.HTTPError) as err:
        rpc(node.ctlurl, "status", headers={"X-Token": "guess"})
    assert err.value.code == 401
    # The shorthand's htpasswd user still gets in, through the same chain.
    basic = {"Authorization": "Basic YWRtaW46YWRtaW4tcHctNGYx"}  # admin:admin-pw-4f1
    assert rpc(node.ctlurl, "links", headers=basic)["result"] == []

    log = node.log()
    assert "control API: refused a request from 127.0.0.1" in log
    assert "(token): bad token" in log
    # Links are not its scope: a link upgrade never reaches it.
    before = seen.read_text()
    peer = wsnet_node_factory("b", listen=False, dial=[node.url])
    wait_until(lambda: bool(peer.ctl("links")), what="the link from b")
    assert "/wsnet" not in before + seen.read_text()
