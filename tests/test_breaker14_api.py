"""Issue 14's public plugin API, broken again as a third-party author and an attacker would:
a plugin that returns the wrong thing or raises in a hook must stop start-up (or fail only
its own part at run time) with one line naming it, and nothing else breaks.

The probe plugins are real distributions on the PYTHONPATH of a `wsnet run` process
(tests/probe_plugins.py), found by importlib.metadata as an installed wheel is.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from probe_plugins import probe_site, site_env, wsnet_run
from wsnet.ctl import CtlError
from wsnet.testing import NodeFactory, free_port, wait_until
from wsnet.testing_run import hup

H = "from aiohttp import web\nfrom wsnet import *\n"
ROUTE = H + "async def h(r):\n    return web.Response(text='pwn')\n"
PROBES = {
    # wrong return types of the register hooks: found at start-up, not at the first use
    "svcstr": "def wsnet_register_services(node):\n    return 'greet'\n",
    "svcobj": "def wsnet_register_services(node):\n    return [object()]\n",
    "svcgen": "def wsnet_register_services(node):\n    yield 1 / 0\n",
    "cmtuple": "def wsnet_register_control_methods(node):\n    return [('x', 1)]\n",
    "cmsync": H + "def f():\n    return 1\n"
    "def wsnet_register_control_methods(node):\n    return [ControlMethod('syncm', f, 'x')]\n",
    "portobj": "def wsnet_register_ports(node):\n    return [object()]\n",
    "rtstr": "def wsnet_register_http_routes(node):\n    return ['/x']\n",
    "rtrpc": ROUTE + "def wsnet_register_http_routes(node):\n"
    "    return [HttpRoute('x', '/rpc', h, 'POST')]\n",
    "authnoname": H + "class A(Authenticator):\n    async def authenticate(self, r):\n"
    "        return None\ndef wsnet_register_authenticators(node):\n    return [A()]\n",
    "trstr": H + "class T(Transport):\n    schemes = 'ws'\n    async def dial(self, u, o):\n"
    "        pass\ndef wsnet_register_transports(node):\n    return [T()]\n",
    "rtrel": ROUTE + "def wsnet_register_http_routes(node):\n    return [HttpRoute('x', 'x', h)]\n",
    # raising where the core calls a plugin at start-up, outside the register hooks
    "cfgboom": "def wsnet_configure(config):\n    raise RuntimeError('cfg boom')\n",
    "compboom": H + "class C(Component):\n    async def start(self):\n"
    "        raise RuntimeError('no start')\n"
    "def wsnet_register_components(node):\n    return [C()]\n",
    # SIGHUP: one plugin's broken reload must not stop the others' (nor the core's "done")
    "relboom": "def wsnet_reload(node, config):\n    raise RuntimeError('reload boom')\n",
    "relgood": "import logging\ndef wsnet_reload(node, config):\n"
    "    logging.getLogger('wsnet.relgood').warning('relgood applied')\n",
    # a scrape: one malformed family must not cost every other metric (was a 500)
    "metbad": H + "def wsnet_collect_metrics(node):\n    return [\n"
    "        Metric('wsnet_metbad_text_total', 'counter', 'h', ('a',), ((('1',), 'x'),)),\n"
    "        Metric('wsnet_metbad_short_total', 'counter', 'h', ('a', 'b'), ((('1',), 1),)),\n"
    "        Metric('wsnet_metbad_good_total', 'counter', 'h', (), (((), 7),)),\n"
    "        'not a metric',\n    ]\n",
    # the deciding hooks: a falsy answer is no opinion, a bug denies (fail closed)
    "authzfalse": "def wsnet_authorize(node, principal, action, target):\n    return False\n",
    "authzboom": "def wsnet_authorize(node, principal, action, target):\n"
    "    raise RuntimeError('authz boom')\n",
    "authstr": H + "class A(Authenticator):\n    name = 'as'\n"
    "    async def authenticate(self, request):\n        return 'admin'\n"
    "def wsnet_register_authenticators(node):\n    return [A()]\n",
    # a transport that takes over ws:// (allowed: later plugins win a scheme), said aloud
    "trws": H + "class T(Transport):\n    schemes = ('ws',)\n"
    "    async def dial(self, url, options):\n        raise OSError('evil transport')\n"
    "def wsnet_register_transports(node):\n    return [T()]\n",
    # an observer that fails on every event, which a peer sets off with every channel
    "obsboom": H + "class O(Observer):\n    def notify(self, event):\n"
    "        raise RuntimeError('obs boom')\n"
    "def wsnet_register_observers(node):\n    return [O()]\n",
    "tlsboom": "def wsnet_tls_server_context(context):\n    raise RuntimeError('tls boom')\n",
}


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    return probe_site(tmp_path / "site", "wsnet-probe-breaker14api", PROBES, "b14api_")


@pytest.mark.parametrize(
    ("plugin", "line"),
    [
        ("svcstr", "wsnet_register_services: returned str 'greet', not an iterable of Service"),
        ("svcobj", "wsnet_register_services: returned object <object object at "),
        ("svcgen", "wsnet_register_services: ZeroDivisionError: division by zero"),
        ("cmtuple", "wsnet_register_control_methods: returned tuple ('x', 1), not a "
                    "ControlMethod"),
        ("cmsync", "wsnet_register_control_methods: control method 'syncm': the handler is "
                   "not an async function"),
        ("portobj", "wsnet_register_ports: returned object <object object at "),
        ("rtstr", "wsnet_register_http_routes: returned str '/x', not an HttpRoute"),
        ("rtrpc", "wsnet_register_http_routes: HTTP route 'x': the path '/rpc' is the core's "
                  "(/, /rpc, /healthz, /readyz)"),
        ("authnoname", "wsnet_register_authenticators: A has no name (a non-empty string), "
                       "got None"),
        ("trstr", "wsnet_register_transports: transport T: schemes must be a tuple of URL "
                  "schemes, got 'ws'"),
        ("cfgboom", "wsnet_configure: RuntimeError: cfg boom"),
        ("rtrel", "wsnet_register_http_routes: HTTP route 'x': the path 'x' does not start "
                  "with '/'"),
    ],
)  # fmt: skip
def test_a_wrong_result_of_a_register_hook_is_one_line_naming_the_plugin(
    probes: Path, plugin: str, line: str
) -> None:
    res = wsnet_run(probes, "--plugins", plugin)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith(f"wsnet: error: plugin {plugin!r} failed in {line}"), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_a_component_that_cannot_start_is_one_line_naming_the_plugin(probes: Path) -> None:
    res = wsnet_run(probes, "--plugins", "compboom")
    assert res.returncode == 2, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last == "wsnet: error: plugin 'compboom' failed to start C: RuntimeError: no start"
    assert "Traceback" not in res.stderr


def test_a_reload_that_raises_is_named_and_the_other_plugins_still_reload(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    node = wsnet_node_factory("a", plugins=["relboom", "relgood"])
    lines = hup(node, "SIGHUP: done")
    assert "SIGHUP: plugin 'relboom' failed in wsnet_reload: RuntimeError: reload boom" in lines
    assert "relgood applied" in lines


def test_a_malformed_metric_is_left_out_and_the_scrape_still_answers(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    node = wsnet_node_factory("a", plugins=["metbad", "prometheus"])
    url = node.ctlurl.removesuffix("/rpc") + "/metrics"
    for _ in range(2):  # the warning comes once, not at every scrape
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            text = resp.read().decode()
    assert "wsnet_metbad_good_total 7.0" in text
    assert "wsnet_metbad_text" not in text and "wsnet_metbad_short" not in text
    assert "wsnet_links" in text  # the core's own metrics are there
    wait_until(lambda: "wsnet_metbad_short_total" in node.log(), what="the warning")
    log = node.log()
    assert (
        log.count(
            "plugin 'metbad', wsnet_collect_metrics: metric wsnet_metbad_text_total: "
            "sample (('1',), 'x') is not (label values, number): left out"
        )
        == 1
    )
    assert "plugin 'metbad', wsnet_collect_metrics: str 'not a metric' is not a Metric" in log
    assert "Traceback" not in log


AUTHZ = {"authz": {"principal": {"anonymous": {"open": ["sink"]}}}}  # no echo, so no ping


def test_a_falsy_answer_of_wsnet_authorize_does_not_override_authz(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pluggy's firstresult stops at False, and the node read False as *allowed*: a plugin
    answering "no objection" that way opened every service [authz] had closed."""
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    a = wsnet_node_factory("a", plugins=["authzfalse"], config=AUTHZ)
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "a" in b.peers(), what="link b->a")
    with pytest.raises(CtlError, match="'anonymous' may not open 'echo'"):
        b.ctl("ping", "a")


def test_wsnet_authorize_that_raises_denies_naming_the_plugin(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    a = wsnet_node_factory("a", plugins=["authzboom"])
    wsnet_node_factory("b", listen=False, dial=[a.url])
    line = "may not claim the node name 'b': plugin 'authzboom' failed in wsnet_authorize"
    wait_until(lambda: line in a.log(), what="the refusal naming the plugin")
    assert "Traceback" not in a.log()
    assert "RuntimeError: authz boom" in a.log()  # the cause, in the node's log only


def test_an_authenticator_returning_a_string_fails_closed_in_one_line(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    a = wsnet_node_factory("a", plugins=["authstr"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    line = "refused by a failing authenticator 'as': TypeError: returned str, not a Principal"
    wait_until(lambda: line in a.log(), what="the failing authenticator's line")
    assert "a" not in b.peers()
    assert "Traceback" not in a.log()


def test_a_plugin_replacing_the_ws_transport_is_logged_naming_both(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    a = wsnet_node_factory("a")
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["trws"])
    wait_until(lambda: "evil transport" in b.log(), what="a dial through the plugin")
    line = "transport for ws:// of plugin 'trws' replaces the one of plugin 'ws_transport'"
    assert b.log().count(line) == 1


def test_an_observer_failing_on_every_event_logs_one_traceback_naming_the_plugin(
    probes: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", site_env(probes)["PYTHONPATH"])
    a = wsnet_node_factory("a", plugins=["obsboom"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "a" in b.peers(), what="link b->a")
    for _ in range(5):  # each a channel: two events on a, each a traceback before
        b.ctl("ping", node="a", count=1)
    log = a.log()
    assert log.count("Traceback") == 1, log
    assert "plugin 'obsboom': observer O failed on node.started: RuntimeError: obs boom" in log


def test_a_tls_context_hook_that_raises_is_one_line_naming_the_plugin(
    probes: Path, pki: Any
) -> None:
    tls = ("--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key))
    res = wsnet_run(probes, "--plugins", "tlsboom", "--listen", f"127.0.0.1:{free_port()}", *tls)
    assert res.returncode == 2, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last == ("wsnet: error: plugin 'tlsboom' failed in wsnet_tls_server_context: "
                    "RuntimeError: tls boom")  # fmt: skip
