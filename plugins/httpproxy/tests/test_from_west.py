"""`wsnet http from-west`: west's own sample configs (github.com/tanupoo/west, sample/), with
loopback ports of the test, translated by the command and run as translated; bodies by hash.
Plus the refusals of configs that cannot be translated, each naming file and key."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from http_helpers import Site, fetch_sha

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet_httpproxy.fromwest import MigrateError, from_west, node_name


def case3(ports: dict[str, int], server: int) -> dict[str, dict[str, Any]]:
    """sample/config-sample-case3-{G,L,L2}.json with this test's ports."""
    ws = f"ws://127.0.0.1:{ports['ws']}"
    return {
        "G.json": {
            "west": {"nm": "ws://case3.G.fiap.org", "cp": f":{ports['cpG']}"},
            "wsts": {"sp": ws},
            "wstc": {},
            "proxy": {f"http://127.0.0.1:{ports['by']}": {
                "en": "ws://case3.L2.fiap.org",
                "/by": {"ou": f"http://127.0.0.1:{server}/b"}}},
        },
        "L.json": {
            "west": {"nm": "ws://case3.L.fiap.org", "cp": f":{ports['cpL']}"},
            "wsts": {},
            "wstc": {},
            "proxy": {f"http://127.0.0.1:{ports['bx']}": {
                "ea": ws, "/bx": {"ou": f"http://127.0.0.1:{ports['by']}/by"}}},
        },
        "L2.json": {
            "west": {"nm": "ws://case3.L2.fiap.org", "cp": f":{ports['cpL2']}"},
            "wsts": {},
            "wstc": {ws: {}},
            "proxy": {},
        },
    }  # fmt: skip


def translate(tmp: Path, configs: dict[str, dict[str, Any]], *extra: str) -> dict[str, str]:
    """Run the command on the configs written as files; node name → TOML text."""
    paths = []
    for label, cfg in configs.items():
        (tmp / label).write_text(json.dumps(cfg, indent=4))
        paths.append(str(tmp / label))
    out = tmp / "out"
    r = subprocess.run(
        [sys.executable, "-m", "wsnet", "http", "from-west", *paths, "--out-dir", str(out), *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return {p.stem: p.read_text() for p in out.glob("*.toml")}


def run(factory: NodeFactory, text: str) -> NodeProcess:
    cfg = tomllib.loads(text)
    listen = cfg["listen"].get("enabled", True)
    return factory(cfg["node"]["name"], listen=listen, port=cfg["listen"].get("port"), config=cfg)


def test_case_3_samples_translate_and_carry(
    tmp_path: Path, wsnet_node_factory: NodeFactory, site: Site
) -> None:
    ports = {k: free_port() for k in ("ws", "by", "bx", "cpG", "cpL", "cpL2")}
    site_port = int(site.url.rsplit(":", 1)[1].split("/")[0])
    # the server serves /x; the sample's upstream is /b: keep the sample's shape, change dir
    configs = case3(ports, site_port)
    configs["G.json"]["proxy"][f"http://127.0.0.1:{ports['by']}"]["/by"]["ou"] = site.url
    toml = translate(tmp_path, configs)
    assert sorted(toml) == ["case3.G.fiap.org", "case3.L.fiap.org", "case3.L2.fiap.org"]
    g_cfg = tomllib.loads(toml["case3.G.fiap.org"])
    # L's route leaves at G and requests G's own proxy listener (west's shape): G allows it;
    # G's route leaves at L2, which must allow the server
    assert g_cfg["httpproxy"]["targets"] == [f"127.0.0.1:{ports['by']}"]
    assert tomllib.loads(toml["case3.L2.fiap.org"])["httpproxy"]["targets"] == [
        f"127.0.0.1:{site_port}"
    ]
    assert tomllib.loads(toml["case3.L.fiap.org"])["dial"] == [
        {"url": f"ws://127.0.0.1:{ports['ws']}", "peer": "case3.G.fiap.org"}
    ]
    g = run(wsnet_node_factory, toml["case3.G.fiap.org"])
    ell = run(wsnet_node_factory, toml["case3.L.fiap.org"])
    l2 = run(wsnet_node_factory, toml["case3.L2.fiap.org"])
    wait_until(lambda: {"case3.L.fiap.org", "case3.L2.fiap.org"} <= g.peers(), what="links")
    assert fetch_sha(f"http://127.0.0.1:{ports['bx']}/bx/f.bin") == site.sha
    assert ell.ctl("httproutes")[0]["requests"] == 1
    assert l2.ctl("proxies")["exit"]["served"]["by"]["requests"] == 1


def test_one_config_prints_toml_and_notes(tmp_path: Path) -> None:
    src = tmp_path / "L.json"
    src.write_text(json.dumps({
        "west": {"nm": "ws://case1.L.fiap.org:9802", "cp": "127.0.0.1:9702"},
        "wstc": {"ws://127.0.0.1:9801": {"ee": "no"}},
        "proxy": {"http://127.0.0.1:9911": {"ea": "ws://127.0.0.1:9801",
                                            "/px": {"ou": "http://127.0.0.1:9921/x"}}},
    }))  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-m", "wsnet", "http", "from-west", str(src),
         "--peer", "ws://127.0.0.1:9801=G"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    cfg = tomllib.loads(r.stdout)
    assert cfg["node"] == {"name": "case1.L.fiap.org", "plugins": ["httpproxy"]}
    assert cfg["control"] == {"host": "127.0.0.1", "port": 9702}
    assert cfg["dial"] == [{"url": "ws://127.0.0.1:9801", "peer": "G"}]  # one dial, not two
    assert cfg["httpproxy"]["listener"] == [{"listen": "127.0.0.1:9911", "route": [
        {"path": "/px", "node": "G", "upstream": "http://127.0.0.1:9921/x"}]}]  # fmt: skip
    assert "# note: wstc.ws://127.0.0.1:9801.ee = no" in r.stdout
    assert "add '127.0.0.1:9921' to [httpproxy] targets on node G" in r.stdout


def _cfg(**proxy: Any) -> dict[str, Any]:
    return {"west": {"nm": "ws://a"}, "proxy": {"http://127.0.0.1:1": proxy}}


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        ({"a.json": {"west": {"nm": "ws://a"}, "proxies": {}}},
         "a.json: proxies: unknown object (west has west, wsts, wstc, proxy)"),
        ({"a.json": {"west": {}}}, "a.json: west.nm: required"),
        ({"a.json": {"west": {"nm": "ws://-"}}}, "a.json: west.nm: cannot make a node name"),
        ({"a.json": {"west": {"nm": "ws://a"}}, "b.json": {"west": {"nm": "ws://a:1"}}},
         "two configs give the same node name"),
        ({"a.json": {"west": {"nm": "ws://a"}, "wstc": {"ws://h:1": {"ee": "maybe"}}}},
         "a.json: wstc.ws://h:1.ee: expected \"yes\" or \"no\", got 'maybe'"),
        ({"a.json": {"west": {"nm": "ws://a"}, "wsts": {"sp": "http://h:1"}}},
         "a.json: wsts.sp: expected ws://HOST:PORT, got 'http://h:1'"),
        ({"a.json": _cfg(en="ws://b", ea="ws://h:1")},
         "a.json: proxy.http://127.0.0.1:1: exactly one of en and ea is required"),
        ({"a.json": _cfg(en="ws://b", **{"/p": {}})},
         "a.json: proxy.http://127.0.0.1:1.en: no config given for the node whose west.nm is "
         "'ws://b': translate it together with this one, or pass --peer ws://b=NODE"),
        ({"a.json": _cfg(en="ws://a", **{"/p": {"o": 1}})},
         "a.json: proxy.http://127.0.0.1:1./p.ou: required"),
        ({"a.json": _cfg(en="ws://a", xx=1)},
         "a.json: proxy.http://127.0.0.1:1.xx: unknown key (en, ea or /PATH)"),
    ],
)  # fmt: skip
def test_refusals_name_file_and_key(configs: dict[str, Any], message: str) -> None:
    with pytest.raises(MigrateError) as err:
        from_west(configs)
    assert str(err.value).startswith(message), str(err.value)


def test_command_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.json").write_text("{}")
    for args, expect in (
        ([str(tmp_path / "a.json")], f"{tmp_path / 'a.json'}: not JSON"),
        ([str(tmp_path / "a.json"), str(tmp_path / "b.json")], "give --out-dir"),
        ([str(tmp_path / "nope.json")], "No such file or directory"),
    ):
        r = subprocess.run([sys.executable, "-m", "wsnet", "http", "from-west", *args],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert r.returncode == 2 and expect in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("origin", "name"),
    [("ws://case1.G.fiap.org", "case1.G.fiap.org"), ("ws//case1.G.flap.org", "case1.G.flap.org"),
     ("ws://case1.L.fiap.org:9802", "case1.L.fiap.org"), ("ws://a b/c", "a-b")],
)  # fmt: skip
def test_node_names_from_origins(origin: str, name: str) -> None:
    assert node_name(origin) == name
