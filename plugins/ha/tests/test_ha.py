"""wsnet-ha end to end: a hub and two members, real processes, kill -9 mid-transfer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, NodeProcess, free_port, wait_until
from wsnet.testing_run import run_config
from wsnet.testing_tcp import echo_roundtrip, ident_handler, server_thread, who_answers

KEEPALIVE_TIMEOUT = 2.0  # wsnet.testing.FAST: interval 0.5 s, timeout 2 s


def members_config(port: int) -> dict[str, Any]:
    return {"tcp": {"tunnel": [{"name": "svc", "connect": f"127.0.0.1:{port}"}]}}


def start_member(factory: NodeFactory, name: str, hub: NodeProcess, port: int,
                 extra: list[dict[str, str]] | None = None) -> NodeProcess:  # fmt: skip
    cfg = members_config(port)
    cfg["tcp"]["tunnel"] += extra or []
    return factory(name, listen=False, dial=[hub.url], plugins=["tcp", "ha", "log"], config=cfg)


def ha_rows(node: NodeProcess) -> dict[str, dict[str, Any]]:
    return {r["member"]: r for r in node.ctl("ha")}


def active(node: NodeProcess) -> str:
    return next((m for m, r in ha_rows(node).items() if r["state"] == "active"), "")


@pytest.fixture
def idents() -> Any:
    with ExitStack() as stack:
        yield {n: stack.enter_context(server_thread(ident_handler(n.encode()))).port
               for n in ("m1", "m2")}  # fmt: skip


def hub_node(factory: NodeFactory, lport: int, **group: Any) -> NodeProcess:
    return factory("hub", plugins=["tcp", "ha", "log"], config={
        "ha": {"group": [{"name": "app", "members": ["m1", "m2"], **group}]},
        "tcp": {"tunnel": [{"name": "svc", "listen": f"127.0.0.1:{lport}", "peer": "app"}]},
    })  # fmt: skip


def test_failover_on_kill_9_and_rejoin_as_standby(
    wsnet_node_factory: NodeFactory, idents: dict[str, int]
) -> None:
    lport = free_port()
    hub = hub_node(wsnet_node_factory, lport)
    m1 = start_member(wsnet_node_factory, "m1", hub, idents["m1"])
    wait_until(lambda: active(hub) == "m1", what="m1 active")
    m2 = start_member(wsnet_node_factory, "m2", hub, idents["m2"])
    wait_until(lambda: ha_rows(hub)["m2"]["state"] == "standby", what="m2 standby")
    wait_until(lambda: who_answers(lport) == "m1", what="connections through m1")
    wait_until(lambda: any(r["state"] == "standby" for r in m2.ctl("ha")), what="m2 told")

    async def mid_transfer_kill() -> tuple[Any, float]:
        job = asyncio.ensure_future(echo_roundtrip(lport, 400 << 20))
        await asyncio.sleep(0.5)
        m1.kill()  # SIGKILL: no close frame, the hub must notice by keepalive
        t_kill = time.monotonic()
        try:
            await job
        except (ConnectionError, OSError) as exc:
            return exc, t_kill
        return job.result(), t_kill

    outcome, t_kill = asyncio.run(mid_transfer_kill())
    assert isinstance(outcome, ConnectionError | OSError), f"transfer survived the kill: {outcome}"
    deadline = KEEPALIVE_TIMEOUT + 1.0
    while (who := who_answers(lport, timeout=1.0)) != "m2":
        assert time.monotonic() - t_kill < deadline + 1.0, f"still {who!r} after {deadline}s"
        time.sleep(0.05)
    assert time.monotonic() - t_kill <= deadline
    rows = ha_rows(hub)
    assert rows["m1"]["state"] == "down" and rows["m2"]["state"] == "active"
    assert rows["m2"]["last_cause"] == "failover" and "link to m1 lost" in rows["m2"]["last_reason"]
    # Observers hear it: wsnet-log writes the HaActiveChanged event.
    assert any("ha.active" in ln and "failover" in ln for ln in hub.log().splitlines())
    # m1 returns: without preempt it rejoins as standby; m2 keeps serving.
    m1b = start_member(wsnet_node_factory, "m1", hub, idents["m1"])
    wait_until(lambda: ha_rows(hub)["m1"]["state"] == "standby", what="m1 back as standby")
    assert who_answers(lport) == "m2"
    wait_until(lambda: any(r["state"] == "standby" for r in m1b.ctl("ha")), what="m1 told")


def test_preempt_gives_the_role_back_to_the_preferred_member(
    wsnet_node_factory: NodeFactory, idents: dict[str, int]
) -> None:
    lport = free_port()
    hub = hub_node(wsnet_node_factory, lport, preempt=True)
    m1 = start_member(wsnet_node_factory, "m1", hub, idents["m1"])
    start_member(wsnet_node_factory, "m2", hub, idents["m2"])
    wait_until(lambda: who_answers(lport) == "m1", what="m1 serves")
    m1.kill()
    wait_until(lambda: who_answers(lport) == "m2", timeout=KEEPALIVE_TIMEOUT + 3, what="m2")
    start_member(wsnet_node_factory, "m1", hub, idents["m1"])
    wait_until(lambda: who_answers(lport) == "m1", what="m1 active again")
    assert ha_rows(hub)["m1"]["last_cause"] == "preempt"


def test_activity_on_a_standby_promotes_it_and_closes_the_old_listeners(
    wsnet_node_factory: NodeFactory, idents: dict[str, int]
) -> None:
    """tcp-over-websocket's mode: a connection into a standby member makes it active;
    the demoted member closes its listeners towards the hub for standby_close seconds."""
    lport, back1, back2 = free_port(), free_port(), free_port()
    with server_thread(ident_handler(b"hub")) as at_hub:
        hub = wsnet_node_factory("hub", plugins=["tcp", "ha", "log"], config={
            "ha": {"group": [{"name": "app", "members": ["m1", "m2"],
                              "promote_on_activity": True, "standby_close": 3}]},
            "tcp": {"tunnel": [{"name": "svc", "listen": f"127.0.0.1:{lport}", "peer": "app"},
                               {"name": "back", "connect": f"127.0.0.1:{at_hub.port}"}]},
        })  # fmt: skip
        m1 = start_member(
            wsnet_node_factory,
            "m1",
            hub,
            idents["m1"],
            [{"name": "back", "listen": f"127.0.0.1:{back1}", "peer": "hub"}],
        )
        wait_until(lambda: active(hub) == "m1", what="m1 active")
        start_member(
            wsnet_node_factory,
            "m2",
            hub,
            idents["m2"],
            [{"name": "back", "listen": f"127.0.0.1:{back2}", "peer": "hub"}],
        )
        wait_until(lambda: who_answers(back2) == "hub", what="m2's listener carries")  # fmt: skip
        t0 = time.monotonic()
        wait_until(lambda: active(hub) == "m2", what="m2 promoted")
        assert ha_rows(hub)["m2"]["last_cause"] == "promotion"
        assert who_answers(lport) == "m2"
        # m1 was demoted with standby_close = 3: its listener is shut, then back.
        wait_until(lambda: who_answers(back1, timeout=0.5) == "", what="m1 listener closed")
        assert time.monotonic() - t0 < 3
        wait_until(lambda: who_answers(back1) == "hub", timeout=8, what="m1 listener back")
        assert time.monotonic() - t0 >= 2.5
        assert "closed for 3s" in m1.log()


def test_operator_switchover_from_the_command_line(
    wsnet_node_factory: NodeFactory, idents: dict[str, int]
) -> None:
    lport = free_port()
    hub = hub_node(wsnet_node_factory, lport)
    start_member(wsnet_node_factory, "m1", hub, idents["m1"])
    start_member(wsnet_node_factory, "m2", hub, idents["m2"])
    wait_until(lambda: who_answers(lport) == "m1" and len(ha_rows(hub)) == 2, what="m1 serves")
    wait_until(lambda: ha_rows(hub)["m2"]["state"] == "standby", what="m2 standby")
    cmd = [sys.executable, "-m", "wsnet", "ha", "promote", "app", "m2", "--ctlurl", hub.ctlurl]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert who_answers(lport) == "m2"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert again.returncode == 1 and "'m2' is already active" in again.stderr
    status = subprocess.run([sys.executable, "-m", "wsnet", "ha", "status", "--ctlurl",
                             hub.ctlurl], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert "promoted by an operator" in status.stdout


BAD = [
    ("[[ha.group]]\nname = 'g'\nmembers = ['a']\n", "[[ha.group]] #1 members: expected at least"),
    ("[[ha.group]]\nname = 'a'\nmembers = ['a', 'b']\n", "[[ha.group]] #1 name: 'a' is also"),
    ("[[ha.group]]\nname = 'g'\nmembers = ['a', 'b']\nstandby_close = -1\n",
     "[[ha.group]] #1 standby_close: expected seconds >= 0"),
    ("[[ha.group]]\nname = 'g'\nmembers = ['a', 'b']\npremept = true\n",
     "[[ha.group]] #1 premept: unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_ha_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    res = run_config(tmp_path, "[node]\nplugins = ['ha']\n" + text)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wsnet: error: {tmp_path / 'bad.toml'}: ")
    assert expected in lines[0]
