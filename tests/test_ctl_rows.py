"""The rows of the core control methods: wsnet.rows types, docs/control-api.md and what a
real node answers agree (every field documented, no documented field missing from a type)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wsnet.rows import ROWS, DescriptorsRow, ListenerRow, StatusRow
from wsnet.testing import NodeProcess, free_port, wait_until

DOC = Path(__file__).resolve().parents[1] / "docs" / "control-api.md"
NESTED: dict[str, type] = {"listeners": ListenerRow, "descriptors": DescriptorsRow}
FIELDS = re.compile(r"^Fields(?: of `(\w+)`)?(?: \([^)]*\))?: (.+)$")


def keys(row_type: Any) -> tuple[set[str], set[str]]:
    """(required keys, all keys) of a TypedDict."""
    return set(row_type.__required_keys__), set(row_type.__annotations__)


def section(method: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n### {method}\n")
    end = text.find("\n##", start + 1)
    return text[start : end if end != -1 else len(text)]


def documented(method: str) -> dict[str | None, set[str]]:
    """{None: the row's fields, NAME: the fields of nested rows NAME} from 'Fields' lines."""
    out: dict[str | None, set[str]] = {}
    for line in section(method).splitlines():
        match = FIELDS.match(line)
        if match:
            listed = match.group(2).split(". ", 1)[0]
            out[match.group(1)] = set(re.findall(r"`(\w+)`", listed))
    return out


def json_examples(method: str) -> list[Any]:
    """The results shown by `$ wsnet ctl --json METHOD` in the method's section."""
    found = []
    for block in re.findall(r"```\n(.*?)```", section(method), re.S):
        head, _, body = block.partition("\n")
        if head.strip() == f"$ wsnet ctl --json {method}":
            found.append(json.loads(body))
    return found


@pytest.mark.parametrize("method", sorted(ROWS))
def test_fields_documented_exactly(method: str) -> None:
    docs = documented(method)
    assert None in docs, f"docs/control-api.md ### {method}: no 'Fields:' line"
    assert docs[None] == keys(ROWS[method])[1], method
    for name, row_type in NESTED.items():
        if name in keys(ROWS[method])[1]:
            assert docs.get(name) == keys(row_type)[1], (method, name)


@pytest.mark.parametrize("method", sorted(ROWS))
def test_json_examples_have_the_types_fields(method: str) -> None:
    for example in json_examples(method):
        for row in example if isinstance(example, list) else [example]:
            check_row(ROWS[method], row, f"docs example of {method}")


def check_row(row_type: Any, row: dict[str, Any], where: str) -> None:
    required, every = keys(row_type)
    assert required <= set(row) <= every, (where, set(row) ^ every)
    for name, nested in NESTED.items():
        if row_type is StatusRow and name in row:
            for item in row[name] if isinstance(row[name], list) else [row[name]]:
                check_row(nested, item, f"{where}: {name}")


def test_a_real_node_answers_rows_of_the_types(
    wsnet_linked_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    _, b = wsnet_linked_nodes
    dead = f"ws://127.0.0.1:{free_port()}/wsnet"
    check_row(ROWS["dial"], b.ctl("dial", dead), "dial of a real node")
    wait_until(lambda: dead in {d["url"] for d in b.ctl("dials")}, timeout=30, what="dials row")
    for method in sorted(ROWS):
        if method == "dial":
            continue  # checked above
        result = b.ctl(method)
        rows = result if isinstance(result, list) else [result]
        assert rows or method == "channels", method  # no channel is open now
        for row in rows:
            check_row(ROWS[method], row, f"{method} of a real node")
