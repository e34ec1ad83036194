"""docs/plugins.md's worked plugin, wsnet-hello, exactly as the page prints it.

Its files (pyproject.toml, plugin.py, cli.py, tests/test_hello.py) are cut out of the page and
made a distribution (a ``.dist-info`` with the entry points and summary of that pyproject.toml,
found by importlib.metadata as an installed wheel is); then its own tests, its command, the
session the page shows, ``wsnet --help``/``--version``/``plugins``, ``mypy --strict`` and
ruff's TID251 with the repository's banned-import table run on it.  A sample that stops
working fails here, not in a newcomer's hands.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import NodeFactory, wait_until

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text()
PREFIX = "# plugins/hello/"


def doc_files() -> dict[str, str]:
    """{path under plugins/hello/: text} of every code block of the worked plugin."""
    files: dict[str, str] = {}
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", DOC, re.S):
        first = body.split("\n", 1)[0]
        if lang == "python" and first.startswith(PREFIX):
            files[first.removeprefix(PREFIX)] = body
        elif lang == "toml" and 'name = "wsnet-hello"' in body:
            files["pyproject.toml"] = body
    return files


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plugins/hello/ as the page lays it out, plus ``site/`` holding its metadata."""
    root = tmp_path_factory.mktemp("worked") / "hello"
    files = doc_files()
    assert {"pyproject.toml", "src/wsnet_hello/plugin.py", "src/wsnet_hello/cli.py",
            "tests/test_hello.py"} <= set(files), sorted(files)  # fmt: skip
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "src" / "wsnet_hello" / "__init__.py").write_text("")
    (root / "src" / "wsnet_hello" / "py.typed").write_text("")
    project: dict[str, Any] = tomllib.loads(files["pyproject.toml"])["project"]
    info = root / "site" / "wsnet_hello-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        f"Summary: {project['description']}\n"
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        for group, eps in groups.items()
    ))  # fmt: skip
    return root


def path_of(hello: Path) -> str:
    """The plugin's directories before whatever PYTHONPATH the test run has (none in CI)."""
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([str(hello / "site"), str(hello / "src"), *filter(None, [inherited])])


def run(hello: Path, *cmd: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": path_of(hello), **env}
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, env=full,
                          cwd=hello)  # fmt: skip


def test_its_own_tests_pass_as_the_page_says(hello: Path) -> None:
    res = run(hello, sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout


def test_cli_lists_it_lazily_with_its_summary(hello: Path) -> None:
    wsnet = (sys.executable, "-m", "wsnet")
    assert "plugin hello 0.1.0 (wsnet-hello)" in run(hello, *wsnet, "--version").stdout
    assert re.search(
        r"hello\s+wsnet plugin: greet other nodes", run(hello, *wsnet, "--help").stdout
    )
    rows = json.loads(run(hello, *wsnet, "plugins", "--json").stdout)
    (row,) = [r for r in rows if r["name"] == "hello"]
    assert row["hooks"] == "configure, register_control_methods, register_services"
    assert (row["commands"], row["error"]) == ("hello", "")


def test_the_session_the_page_shows(
    hello: Path, wsnet_node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", path_of(hello))
    a = wsnet_node_factory("a", plugins=["hello"], config={"hello": {"greeting": "hi"}})
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["hello"])
    wait_until(lambda: "a" in b.peers(), what="link b->a")
    wsnet = (sys.executable, "-m", "wsnet")
    res = run(hello, *wsnet, "ctl", "--ctlurl", b.ctlurl, "greet", "a", "b")
    assert res.stdout.split() == ["node:", "a", "reply:", "hi", "b", "from", "a"], res.stderr
    res = run(hello, *wsnet, "hello", "greet", "a", "--who", "edge", WSNET_CTLURL=b.ctlurl)
    assert res.stdout == "hi edge from a\n", res.stderr
    helps = run(hello, *wsnet, "ctl", "--ctlurl", b.ctlurl, "help").stdout
    assert re.search(r"greet\s+node_name \[who='world'\]\s+open a channel to NODE_NAME", helps)


def test_it_is_mypy_strict_clean_and_ruff_bans_core_internals(hello: Path) -> None:
    src = hello / "src" / "wsnet_hello"
    res = run(hello, sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(src))
    assert res.returncode == 0, res.stdout
    # the repository's banned-import table, as the page tells a third party to copy it
    table = (ROOT / "pyproject.toml").read_text().split("[tool.ruff.lint.flake8-tidy-imports")[1]
    banned = "[tool.ruff.lint.flake8-tidy-imports" + table.split("\n[tool.mypy]")[0]
    (hello / "ruff.toml").write_text(
        banned.replace("tool.ruff.", "") + '\n[lint]\nselect = ["TID251"]\n'
    )
    ruff = (sys.executable, "-m", "ruff", "check", "--no-cache", "--config", "ruff.toml")
    assert run(hello, *ruff, "src").returncode == 0
    (src / "sneaky.py").write_text(
        "import wsnet.link\nfrom wsnet import node\nfrom wsnet.node import Node\n"
    )
    try:
        res = run(hello, *ruff, "--output-format", "concise", "src")
    finally:
        (src / "sneaky.py").unlink()
    assert res.returncode == 1
    assert res.stdout.count("TID251") == 3, res.stdout
