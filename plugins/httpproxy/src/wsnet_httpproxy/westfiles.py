"""The file side of `wsnet http from-west`: read west configs, write wsnet TOML."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from wsnet import toml_dumps

from .fromwest import MigrateError, Translation, from_west


def write_translations(
    configs: Sequence[Path], out_dir: Path | None, peers: Sequence[str]
) -> list[Path]:
    """Translate CONFIGS; one without ``out_dir`` goes to stdout, else DIR/NODE.toml each.

    Returns the files written. Raises OSError (unreadable or unwritable file),
    json.JSONDecodeError and MigrateError (naming the file and key).
    """
    if len(configs) > 1 and out_dir is None:
        raise MigrateError("more than one CONFIG: give --out-dir for the NODE.toml files")
    loaded = {}
    for path in configs:
        try:
            loaded[str(path)] = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise MigrateError(f"{path}: not JSON: {exc}") from None
    done = from_west(loaded, _peers(peers))
    if out_dir is None:
        sys.stdout.write(_text(configs[0], done[0]))
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src, t in zip(configs, done, strict=True):
        dest = out_dir / f"{t.name}.toml"
        dest.write_text(_text(src, t))
        written.append(dest)
    return written


def _peers(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        what, eq, name = item.rpartition("=")
        if not eq or not what or not name:
            raise MigrateError(f"--peer: expected ORIGIN_OR_URL=NODE, got {item!r}")
        out[what] = name
    return out


def _text(src: Path, t: Translation) -> str:
    notes = [f"note: {n}" for n in t.notes]
    return toml_dumps(t.data, [f"translated from {src} (west) by wsnet http from-west", *notes])
