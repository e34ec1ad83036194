"""Regression tests against real `wsnet` processes: shutdown reason, [[dial]] checks, ctl text."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wsnet.ctl import CtlError
from wsnet.testing import NodeFactory, NodeProcess, toml_dumps, wait_until
from wsnet.testing_run import run_config_file

if TYPE_CHECKING:
    from wsnet.testing_pki import Pki


def wsnet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsnet", *args], capture_output=True, text=True, timeout=timeout
    )


def run_config(
    tmp_path: Path, raw: dict[str, object]
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cfg = tmp_path / "node.toml"
    cfg.write_text(toml_dumps(raw))
    return cfg, run_config_file(cfg, "--listen", "none")


def test_dialling_node_shutdown_tells_the_peer_why(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    a, b = wsnet_linked_nodes  # b dialled a
    assert b.stop() == 0
    line = re.compile(r"link \d+ down: b: (.*) \(code (\d+)\)")
    wait_until(lambda: line.search(a.log()), timeout=10, what="a logs the link to b down")
    match = line.search(a.log())
    assert match is not None
    assert match.groups() == ("node b shutting down", "1001"), a.log()
    # b's own record of the link says the same (it closed it, with that reason).
    assert "link 1 down: a: node b shutting down (code 1001)" in b.log(), b.log()


def test_accepting_node_shutdown_tells_the_dialler_why(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    a, b = wsnet_linked_nodes
    assert a.stop() == 0
    wait_until(
        lambda: "down: a: node a shutting down (code 1001)" in b.log(),
        timeout=10,
        what="b logs the link to a down",
    )


def test_missing_ca_file_stops_start_up_naming_the_entry(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    dial = [
        {"url": "ws://127.0.0.1:9/wsnet"},
        {"url": "wss://127.0.0.1:9/w", "ca_file": str(missing)},
    ]
    cfg, res = run_config(tmp_path, {"dial": dial})
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == (
        f"wsnet: error: {cfg}: [[dial]] #2 ca_file: '{missing}': No such file or directory"
    )


def test_unknown_dial_option_stops_start_up(tmp_path: Path) -> None:
    cfg, res = run_config(tmp_path, {"dial": [{"url": "ws://127.0.0.1:9/wsnet", "insecur": True}]})
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == (
        f"wsnet: error: {cfg}: [[dial]] #1 insecur: unknown key "
        "(known keys here: ca_file, cert_file, handshake_timeout, headers, insecure, key_file, "
        "password, password_file, peer, proxy, url, user)"
    )


def test_dial_as_a_table_is_named_with_brackets(tmp_path: Path) -> None:
    cfg = tmp_path / "b25.toml"
    cfg.write_text('[dial]\nurl = "ws://x"\n')
    res = wsnet("run", "--config", str(cfg), "--ctl-port", "0")
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"wsnet: error: {cfg}: [dial]: expected an array of tables ([[dial]]), got a table"
    )


def test_runtime_dial_with_missing_ca_file_reports_the_option(
    wsnet_node_factory: NodeFactory, tmp_path: Path, pki: Pki
) -> None:
    # `addport client` options are checked like a [[dial]] entry's: refused at once ...
    a = wsnet_node_factory(
        "a", listen=False, plugins=["switch"], config={"control": {"allow_file_options": True}}
    )
    missing = tmp_path / "ca.pem"
    with pytest.raises(CtlError, match=f"addport client: ca_file: '{missing}': No such file"):
        a.ctl("addport", kind="client", name="wss://127.0.0.1:9/wsnet", ca_file=str(missing))
    with pytest.raises(CtlError, match="password: not accepted here"):
        a.ctl("addport", kind="client", name="wss://127.0.0.1:9/wsnet", password="x")
    assert a.ctl("dials") == []
    # ... and a file that disappears later is named by the dial attempts that need it.
    shutil.copy(pki.ca.cert, missing)
    a.ctl("addport", kind="client", name="wss://127.0.0.1:9/wsnet", ca_file=str(missing))
    missing.unlink()
    expected = f"ca_file '{missing}': No such file or directory"
    wait_until(
        lambda: any(d["last_error"] == expected for d in a.ctl("dials")),
        timeout=10,
        what="the dial error naming ca_file",
    )


def test_ctl_error_names_the_method_once(wsnet_node: NodeProcess) -> None:
    res = wsnet("ctl", "--ctlurl", wsnet_node.ctlurl, "ping")
    assert res.returncode != 0
    assert "ping: missing parameter 'node'" in res.stderr
    assert "ping: ping:" not in res.stderr
