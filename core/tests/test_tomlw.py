"""wsnet.tomlw writes what tomllib reads back unchanged."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from wsnet.tomlw import dumps

CASES: list[dict[str, Any]] = [
    {"node": {"name": "a", "plugins": ["tcp", "ha"]}, "listen": {"enabled": False}},
    {"tcp": {"pending_timeout": 8.5, "tunnel": [{"name": "e", "listen": "1"}, {"name": "f"}]}},
    {"dial": [{"url": "ws://h/", "headers": {"X-A": "b"}}, {"url": "wss://g/"}]},
    {"authz": {"default": "deny", "principal": {"alice": {"open": ["tcp:*"]}}}},
    {"odd": {"a.b": 1, "*": "x", "with space": 'q"uote\\back\nline'}, "empty": {}},
    {"top": 1, "list": [1, 2], "mixed": [{"k": 1}, {"k": 2}], "table": {"x": [True]}},
]


@pytest.mark.parametrize("data", CASES)
def test_round_trip(data: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(data)) == data


def test_comments_come_first_and_tables_read_as_written() -> None:
    text = dumps({"tcp": {"tunnel": [{"name": "t"}]}}, ["made by a test"])
    assert text == '# made by a test\n\n[[tcp.tunnel]]\nname = "t"\n'


def test_unwritable_values_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot write"):
        dumps({"x": {"y": object()}})
