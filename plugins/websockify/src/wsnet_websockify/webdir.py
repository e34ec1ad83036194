"""``web``: static files on the bridge's port (noVNC's pages), as websockify's --web.

A path is decoded once, then resolved (symbolic links too) and served only when the
result is inside the web directory: ``/../``, ``%2e%2e``, ``..%2f`` and absolute paths
all end in 404, as does anything not a regular file.  A directory serves its
``index.html``; there are no listings (websockify's --file-only).  Content types come
from the ``mimetypes`` table, with ``.js``/``.mjs`` pinned to text/javascript (noVNC's
ES modules are refused by browsers under any other type).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


def find(root: Path, raw_path: str) -> Path | None:
    """The file ``raw_path`` (the request's decoded path) names under ``root``, or None."""
    rel = raw_path.lstrip("/")
    if "\x00" in rel:
        return None
    try:
        path = (root / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if path != root and root not in path.parents:
        return None
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def content_type(path: Path) -> str:
    return (
        _TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or ("application/octet-stream")
    )


async def serve(root: Path, request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    path = find(root, request.path)
    if path is None:
        raise web.HTTPNotFound(text="404: not found\n")
    return web.FileResponse(path, headers={"Content-Type": content_type(path)})
