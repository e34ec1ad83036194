"""docs/architecture.md names files, modules and methods: each one must exist in the tree.

The page walks through the code step by step, so a renamed function or a moved module
would leave it describing code that is gone.  These tests read the page and the sources
(no import of any plugin) and fail on every name that no longer resolves.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
CORE = ROOT / "core" / "src"
# Where a relative path in the page may start: the repository, the core package, a plugin's
# src/ (``wsnet_tcp/bridge.py``), or docs/ (for links between the pages).
BASES = [ROOT, CORE / "wsnet", *sorted(ROOT.glob("plugins/*/src")), ROOT / "docs"]

PATH_RE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.(?:py|toml|md))(?![\w/])")
# Also the hooks (``wsnet_configure``; ``wsnet_register_*`` stands for several of them).
MODULE_RE = re.compile(r"(?<![\w.])(wsnet(?:_\w+)?(?:\.\w+)*\*?)(?![\w(])")
MEMBER_RE = re.compile(r"(?<![\w.])([A-Z]\w*)\.([A-Za-z_]\w*)(?![\w.(])")
LINK_RE = re.compile(r"\]\(([\w.-]+\.md)#([^)]+)\)")


def doc_text() -> str:
    assert DOC.is_file(), f"{DOC} is missing"
    return DOC.read_text(encoding="utf-8")


def sources() -> list[Path]:
    return [*CORE.rglob("*.py"), *ROOT.glob("plugins/*/src/**/*.py")]


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


@cache
def class_members() -> dict[str, set[str]]:
    """Class name -> every method, class attribute and ``self.X`` it defines or inherits
    from a class of the tree (all classes of that name in the core and plugins together)."""
    found: dict[str, set[str]] = {}
    bases: dict[str, set[str]] = {}
    for path in sources():
        for cls in ast.walk(tree(path)):
            if not isinstance(cls, ast.ClassDef):
                continue
            bases.setdefault(cls.name, set()).update(
                b.id if isinstance(b, ast.Name) else b.attr
                for b in cls.bases
                if isinstance(b, ast.Name | ast.Attribute)
            )
            names = found.setdefault(cls.name, set())
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    if isinstance(node.value, ast.Name) and node.value.id == "self":
                        names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return {name: inherited(name, found, bases, set()) for name in found}


def inherited(
    name: str, found: dict[str, set[str]], bases: dict[str, set[str]], seen: set[str]
) -> set[str]:
    seen.add(name)
    names = set(found.get(name, ()))
    for base in bases.get(name, ()):
        if base not in seen:
            names |= inherited(base, found, bases, seen)
    return names


def top_level_names(path: Path) -> set[str]:
    """Names a module defines or imports, also under ``if``/``try``, and its ``__all__``."""
    names: set[str] = set()
    body = list(tree(path).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If | ast.Try):
            body.extend([*node.body, *node.orelse])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                names.update(ast.literal_eval(node.value))
    return names


def module_file(dotted: str) -> Path | None:
    """The source of an importable module name of this tree (``wsnet.x``, ``wsnet_tcp.y``)."""
    first, *rest = dotted.split(".")
    if first == "wsnet":
        base = CORE / "wsnet"
    else:
        found = sorted(ROOT.glob(f"plugins/*/src/{first}"))
        if not found:
            return None
        base = found[0]
    path = base.joinpath(*rest)
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def resolves(dotted: str) -> bool:
    """A module, or a name defined at the top of the longest module prefix, or a hook."""
    hooks = {n for n in top_level_names(CORE / "wsnet" / "hookspecs.py") if n.startswith("wsnet_")}
    if dotted.endswith("*"):
        return any(h.startswith(dotted[:-1]) for h in hooks)
    if dotted in hooks:
        return True
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = module_file(".".join(parts[:cut]))
        if path is not None:
            rest = parts[cut:]
            return not rest or (len(rest) == 1 and rest[0] in top_level_names(path))
    return False


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_file_named_exists() -> None:
    named = set(PATH_RE.findall(doc_text()))
    assert len(named) >= 30, sorted(named)  # the regex still finds the page's paths
    missing = [p for p in sorted(named) if not any((b / p).is_file() for b in BASES)]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_module_named_exists() -> None:
    named = set(MODULE_RE.findall(doc_text())) - {"wsnet"}
    assert {"wsnet.transport.ws", "wsnet_tcp"} <= named, sorted(named)
    missing = [m for m in sorted(named) if not resolves(m)]
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_class_member_named_exists() -> None:
    members = class_members()
    named = set(MEMBER_RE.findall(doc_text()))
    assert len(named) >= 40, sorted(named)
    missing = [
        f"{cls}.{attr}"
        for cls, attr in sorted(named)
        if cls in members and attr not in members[cls]
    ]
    assert not missing, f"docs/architecture.md names members that do not exist: {missing}"
    # A capitalised name before a dot that is no class of the tree: a typo or a rename
    # (asyncio's and aiohttp's names are written in lower case, e.g. transport.write).
    unknown = sorted({cls for cls, _ in named if cls not in members})
    assert not unknown, f"docs/architecture.md names classes that do not exist: {unknown}"


def test_every_anchor_linked_exists() -> None:
    links = LINK_RE.findall(doc_text())
    assert links
    for page, anchor in links:
        headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / page).read_text(encoding="utf-8"),
                              flags=re.M)  # fmt: skip
        assert anchor in {slug(h) for h in headings}, f"{page}#{anchor}: no such heading"


def test_the_page_is_linked_from_the_index_and_readme() -> None:
    assert "(architecture.md)" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
