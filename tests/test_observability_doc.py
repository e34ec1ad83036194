"""docs/observability.md against the real thing: its metric tables list exactly the families
a node with wsnet-prometheus, -tcp, -ha and -switch exposes (names and types), and its alert
rules pass `promtool check rules`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from prom_helpers import PROMTOOL, fetch
from wsnet.testing import NodeFactory

DOC = Path(__file__).resolve().parents[1] / "docs" / "observability.md"
ROW = re.compile(r"^\| `((?:wsnet|process)_[a-z_]+)` \| (counter|gauge|histogram) \|", re.M)


def documented() -> dict[str, str]:
    rows = ROW.findall(DOC.read_text())
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a metric is listed twice"
    return dict(rows)


def exposed(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def test_the_doc_lists_exactly_the_exposed_metrics(wsnet_node_factory: NodeFactory) -> None:
    node = wsnet_node_factory("obs", plugins=["prometheus", "tcp", "ha", "switch"])
    status, body = fetch(node.ctlurl.removesuffix("/rpc") + "/metrics")
    assert status == 200
    have, doc = exposed(body.decode()), documented()
    assert sorted(set(have) - set(doc)) == [], "exposed but not in docs/observability.md"
    assert sorted(set(doc) - set(have)) == [], "in docs/observability.md but not exposed"
    assert {n: t for n, t in doc.items() if have[n] != t} == {}, "types differ"


@pytest.mark.skipif(not PROMTOOL, reason="needs promtool (Debian package prometheus)")
def test_the_alert_rules_pass_promtool(tmp_path: Path) -> None:
    text = DOC.read_text()
    block = re.search(r"```yaml\n(# wsnet-alerts\.yml.*?)```", text, re.S)
    assert block is not None, "no alert rules block"
    rules = tmp_path / "wsnet-alerts.yml"
    rules.write_text(block.group(1))
    checked = subprocess.run([PROMTOOL, "check", "rules", str(rules)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout
