"""A small TOML writer for wsnet configs (the standard library reads TOML, never writes it).

Tables become ``[a.b]`` sections and lists of tables ``[[a.b]]`` sections, so the output
reads like a hand-written config file: test fixtures write node configs with it and
``wsnet tcp from-tow`` prints translated configs with it.  Values: strings, booleans,
integers, floats, lists of them and inline tables inside lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def dumps(data: Mapping[str, Any], comments: Sequence[str] = ()) -> str:
    """``data`` as TOML text, after one ``# comment`` line per entry of ``comments``."""
    out = [f"# {c}" for c in comments]
    _table(out, (), data)
    return "\n".join(out).lstrip("\n") + "\n"


def _table(
    out: list[str], path: tuple[str, ...], data: Mapping[str, Any], header: str = ""
) -> None:
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_tables(v)}
    if header:
        out += ["", header]
    elif path and (scalars or not data):  # a table with only sub-tables needs no header
        out += ["", f"[{_dotted(path)}]"]
    out += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for key, value in data.items():
        sub = (*path, key)
        if _is_table(value):
            _table(out, sub, value)
        elif _is_tables(value):
            for item in value:
                _table(out, sub, item, header=f"[[{_dotted(sub)}]]")


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(i, Mapping) for i in v)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(p) for p in path)


def _key(key: str) -> str:
    """Bare keys as they are; anything else (dots, '*', spaces) as a quoted string."""
    return key if key and all(c.isalnum() or c in "-_" for c in key) else _value(key)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(i) for i in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(i)}" for k, i in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")
