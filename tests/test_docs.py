"""The documentation in docs/ names everything users and plugin authors can touch.

These tests read the real sources (hookspecs, built-in control methods, config parser,
built-in transport) and fail when docs/ stops describing one of them, so a new hook,
method or config key cannot be added without documenting it.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

import wsnet.config
import wsnet.hookspecs
import wsnet.transport.ws.options
from wsnet.builtin import core_methods, diag
from wsnet.config import parse
from wsnet.node import Node
from wsnet.plugins import load

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Which parser function of config.py reads which section, and that section's heading.
CONFIG_SECTIONS = {
    "_parse_node": "[node]",
    "_parse_listen": "[listen]",
    "_parse_dial": "[[dial]]",
    "_parse_control": "[control]",
    "_parse_keepalive": "[keepalive]",
    "_parse_reconnect": "[reconnect]",
    "_parse_limits": "[limits]",
}
# A floor for the AST walk below: if it ever finds fewer keys, the walk is broken.
KNOWN_CORE_KEYS = {
    ("[node]", "name"),
    ("[node]", "plugins"),
    ("[listen]", "enabled"),
    ("[listen]", "host"),
    ("[listen]", "port"),
    ("[listen]", "path"),
    ("[[dial]]", "url"),
    ("[[dial]]", "peer"),
    ("[control]", "host"),
    ("[control]", "port"),
    ("[control]", "enabled"),
    ("[control]", "allow_remote"),
    ("[keepalive]", "interval"),
    ("[keepalive]", "timeout"),
    ("[keepalive]", "hello_timeout"),
    ("[reconnect]", "initial"),
    ("[reconnect]", "max"),
    ("[reconnect]", "factor"),
    ("[limits]", "window"),
    ("[limits]", "max_frame"),
    ("[limits]", "max_message"),
    ("[limits]", "max_channels"),
    ("[limits]", "datagram_backlog"),
    ("[limits]", "max_window"),
    ("[limits]", "window_budget"),
}


def read_doc(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def section_of(text: str, heading: str) -> str:
    """The body under the markdown heading line ``heading`` up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise AssertionError(f"heading {heading!r} not found") from None
    body = []
    for line in lines[start + 1 :]:
        if re.match(rf"^#{{1,{len(level)}}} ", line):
            break
        body.append(line)
    return "\n".join(body)


def hookspecs() -> list[tuple[str, object]]:
    marker = f"{wsnet.hookspecs.PROJECT}_spec"
    return [
        (name, fn)
        for name, fn in vars(wsnet.hookspecs).items()
        if name.startswith("wsnet_") and callable(fn) and hasattr(fn, marker)
    ]


def def_line(module: ModuleType, name: str) -> str:
    """The ``def ...:`` header of a function as written in its source (may span lines)."""
    source = inspect.getsource(module)
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines()[node.lineno - 1 : node.body[0].lineno - 1]
            return "\n".join(lines)
    raise AssertionError(f"{name} not found in {module.__name__}")


def test_every_hookspec_is_documented_with_its_signature() -> None:
    specs = hookspecs()
    assert len(specs) >= 10, [n for n, _ in specs]
    doc = read_doc("plugins.md")
    reference = section_of(doc, "## Hook reference")
    for name, fn in specs:
        body = section_of(reference, f"### {name}")
        params = list(inspect.signature(fn).parameters)  # type: ignore[arg-type]
        for param in params:
            assert re.search(rf"\b{param}\b", body), f"### {name}: parameter {param!r} missing"
        assert def_line(wsnet.hookspecs, name) in body, f"### {name}: signature differs"


def test_hook_reference_names_no_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^### (wsnet_\w+)$", read_doc("plugins.md"), flags=re.M)
    assert sorted(documented) == sorted(n for n, _ in hookspecs())


def builtin_control_methods() -> set[str]:
    # A real node built from defaults; registration only closes over it, nothing starts.
    node = Node(parse({}, "test"), load([]))
    names = {
        m.name for mod in (core_methods, diag) for m in mod.wsnet_register_control_methods(node)
    }
    assert names <= set(node.control_methods)
    return names


def test_every_builtin_control_method_is_documented() -> None:
    names = builtin_control_methods()
    assert {"status", "links", "routes", "help", "ping", "speedtest"} <= names
    doc = read_doc("control-api.md")
    for name in sorted(names):
        assert f"\n### {name}\n" in doc, f"control-api.md has no '### {name}' section"
        assert f"| `{name}` |" in doc, f"control-api.md method table lacks {name}"


def config_keys() -> set[tuple[str, str]]:
    """(section, key) for every get_*("key", ...) call in the core's section parsers."""
    tree = ast.parse(inspect.getsource(wsnet.config))
    found: set[tuple[str, str]] = set()
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef) or func.name not in CONFIG_SECTIONS:
            continue
        for call in ast.walk(func):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr.startswith("get_")
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                found.add((CONFIG_SECTIONS[func.name], call.args[0].value))
    return found


def test_every_core_config_key_is_documented_in_its_section() -> None:
    keys = config_keys()
    assert keys >= KNOWN_CORE_KEYS, sorted(KNOWN_CORE_KEYS - keys)
    doc = read_doc("configuration.md")
    for section, key in sorted(keys):
        body = section_of(doc, f"## `{section}`")
        assert f"| `{key}` |" in body, f"configuration.md: {section} lacks a row for `{key}`"


@pytest.mark.parametrize("option", [f.name for f in wsnet.transport.ws.options.fields()])
def test_ws_transport_dial_options_are_documented(option: str) -> None:
    # Every option of the transport's one declaration (its option model) has a row.
    body = section_of(read_doc("configuration.md"), "## `[[dial]]`")
    assert f"| `{option}` |" in body
