"""The core without auth plugins: no htpasswd code, no bcrypt, one authenticator chain
whose scopes the node checks, and a control API that fails closed when its shorthand
(``[control] htpasswd``) has no plugin to serve it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web

from wsnet import Authenticator, Principal, WsnetError
from wsnet.config import Config, parse
from wsnet.node import Node
from wsnet.plugins import Plugins, load, new_manager
from wsnet.runtime import Runtime

CORE = Path(__file__).resolve().parents[1]

# Builds and starts a plain node (links and control API on free ports), then reports which
# password-hashing modules the process imported: a core-only node must need none of them.
PLAIN_NODE = textwrap.dedent("""
    import asyncio, importlib.util, socket, sys
    from wsnet.startup import RunOptions, prepare
    from wsnet.runtime import Runtime

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    async def main():
        cfg, plugins = prepare(RunOptions(listen=f"127.0.0.1:{free_port()}", ctl_port="0"))
        async with Runtime(cfg, plugins) as rt:
            assert rt.node.listen_url and rt.node.control_url
            assert rt.node.authenticators == []

    asyncio.run(main())
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("bcrypt", "wsnet_auth_htpasswd"))
    moved = [m for m in ("wsnet.htpasswd", "wsnet.passcheck", "wsnet.htcrypt")
             if importlib.util.find_spec(m) is not None]
    print("loaded", loaded, "moved", moved)
""")


def test_a_plain_node_imports_no_password_hashing() -> None:
    res = subprocess.run([sys.executable, "-c", PLAIN_NODE], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "loaded [] moved []", res.stdout
    deps = tomllib.loads((CORE / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.startswith("bcrypt")], deps
    for path in (CORE / "src").rglob("*.py"):  # core never imports the plugin
        text = path.read_text()
        assert "import bcrypt" not in text and "wsnet_auth_htpasswd" not in text, path


async def test_control_htpasswd_without_its_plugin_fails_closed(tmp_path: Path) -> None:
    users = tmp_path / "users.htpasswd"
    users.write_text("admin:{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=\n")
    cfg = parse({"control": {"htpasswd": str(users), "port": 0}}, "node.toml")
    cfg.listen = None
    runtime = Runtime(cfg, load([]))  # no auth_htpasswd: nothing would check the users
    with pytest.raises(WsnetError, match=r"\[control\] htpasswd is set but no authenticator"):
        await runtime.start()
    assert runtime.node.control_url == ""


class Scoped(Authenticator):
    name = "scoped"

    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes

    async def authenticate(self, request: web.Request) -> Principal | None:
        return None


def node_with(*auths: Authenticator) -> Node:
    def register(node: Node) -> Iterable[Authenticator]:
        return auths

    pm = new_manager()
    pm.register(SimpleNamespace(wsnet_register_authenticators=register), name="probe")
    return Node(Config(name="n"), Plugins(pm, ["probe"]))


def test_each_scope_has_its_own_chain_links_by_default() -> None:
    link, ctl = Scoped(frozenset({"link"})), Scoped(frozenset({"control"}))
    both = Scoped(frozenset({"link", "control"}))
    node = node_with(link, ctl, both)
    assert node.authenticators_for("link") == [link, both]
    assert node.authenticators_for("control") == [ctl, both]
    assert Authenticator.scopes == frozenset({"link"})  # a link authenticator unless it says


@pytest.mark.parametrize("scopes", [frozenset(), frozenset({"admin"})])
def test_an_unknown_scope_stops_the_node(scopes: frozenset[str]) -> None:
    with pytest.raises(WsnetError, match="authenticator 'scoped': scopes"):
        node_with(Scoped(scopes))


def test_the_shorthand_remembers_where_it_was_set() -> None:
    cfg = parse({"control": {"htpasswd": "/x"}}, "node.toml")
    assert cfg.control.htpasswd_origin == ("node.toml", "[control] htpasswd")
    moved = dataclasses.replace(cfg.control, htpasswd_origin=("command line", "--ctl-htpasswd"))
    assert moved == cfg.control  # where it came from is not part of the value (SIGHUP)
