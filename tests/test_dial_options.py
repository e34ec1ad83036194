"""The ws transport's dial options are declared once (wsnet/transport/ws/options.py): the
flags of `wsnet run`, the parameters of `wsnet ctl dial` and the [[dial]] keys follow it.

Both commands are asked for real: `wsnet run --help` and `wsnet ctl help` of a running node.
The second test adds an option to the declaration (in a child process, so that nothing of
this one changes) and finds it in both commands' help and accepted by a run-time dial.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

from wsnet.testing import NodeFactory
from wsnet.transport.ws.options import fields, info

NO_COLOUR = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def run_help() -> str:
    import os

    env = {**os.environ, **NO_COLOUR}
    out = subprocess.run([sys.executable, "-m", "wsnet", "run", "--help"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return out.stdout


def dial_params(help_rows: list[dict[str, str]]) -> set[str]:
    """The parameter names of the `dial` row of `wsnet ctl help` (``[ca_file='']``...)."""
    row = next(r for r in help_rows if r["method"] == "dial")
    return {p.strip("[]").split("=", 1)[0] for p in row["params"].split()}


def test_run_and_ctl_dial_list_the_same_dial_options(wsnet_node_factory: NodeFactory) -> None:
    text = run_help()
    run_flags = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text))
    node = wsnet_node_factory("a", listen=False)
    params = dial_params(node.ctl("help")) - {"url", "peer"}
    declared = {f.name: info(f).flag for f in fields() if info(f).flag}
    # Each option with a flag: the flag in `wsnet run`, the option in `ctl dial`, and
    # `ctl dial` takes nothing else (password and headers have no flag: neither takes them).
    assert set(declared.values()) <= run_flags, sorted(set(declared.values()) - run_flags)
    assert params == set(declared), (sorted(params), sorted(declared))
    assert {"--ca-file", "--insecure", "--cert", "--key", "--user", "--password-file",
            "--proxy"} <= set(declared.values())  # fmt: skip
    assert "password" not in params and "--password" not in run_flags


CHILD = textwrap.dedent(
    """
    import dataclasses, inspect, json, sys
    from wsnet.transport.ws import options

    colour = options._option("", "--colour", "a colour for --dial")
    options.DialOptions = dataclasses.make_dataclass(
        "DialOptions", [("colour", str, colour)], bases=(options.DialOptions,), frozen=True
    )

    from typer.testing import CliRunner
    from wsnet.builtin.core_methods import methods
    from wsnet.cli import app
    from wsnet.control import bind, signature_text
    from wsnet.transport.ws.checks import check_run_time_options

    runner = CliRunner()
    help_text = runner.invoke(app, ["run", "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    dial = next(m for m in methods(None) if m.name == "dial")
    bound = bind(dial, {"url": "ws://127.0.0.1:1/wsnet", "colour": "red"})
    checked = check_run_time_options({"colour": "red"})
    print(json.dumps({"help": help_text.output, "params": signature_text(dial),
                      "bound": bound, "checked": checked}))
    """
)


def test_an_option_added_to_the_declaration_is_a_flag_and_a_ctl_dial_parameter() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert "--colour" in seen["help"] and "a colour for --dial" in seen["help"]
    assert "[colour='']" in seen["params"], seen["params"]
    assert seen["bound"]["colour"] == "red"
    assert seen["checked"] == {"colour": "red"}
