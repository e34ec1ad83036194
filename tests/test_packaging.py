"""Distribution names: the core is `wsnet-core` (the name `wsnet` on PyPI is another project).

Every plugin depends on `wsnet-core`, in its pyproject.toml and in the metadata pip installed;
the meta-distribution `wsnet-all` names the core and every plugin of the workspace.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import wsnet

ROOT = Path(__file__).resolve().parents[1]
CORE = "wsnet-core"


def project(path: Path) -> dict[str, object]:
    data = tomllib.loads(path.read_text())
    proj = data["project"]
    assert isinstance(proj, dict)
    return proj


def plugin_projects() -> dict[str, dict[str, object]]:
    found = {p.parent.name: project(p) for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))}
    assert len(found) >= 7, found
    return found


def requirement_names(reqs: object) -> set[str]:
    assert isinstance(reqs, list)
    return {Requirement(r).name for r in reqs}


def test_core_distribution_name() -> None:
    assert project(ROOT / "core/pyproject.toml")["name"] == CORE
    assert md.version(CORE) == wsnet.__version__
    # the import package `wsnet` comes from wsnet-core and from no other distribution
    assert set(md.packages_distributions().get("wsnet", [])) == {CORE}


def test_the_other_projects_name_is_not_installed() -> None:
    """scripts/setup.sh removes a `wsnet` distribution: it would shadow the package `wsnet`."""
    with pytest.raises(md.PackageNotFoundError):
        md.distribution("wsnet")


@pytest.mark.parametrize("plugin", sorted(plugin_projects()))
def test_plugin_depends_on_the_core(plugin: str) -> None:
    proj = plugin_projects()[plugin]
    names = requirement_names(proj["dependencies"])
    assert CORE in names and "wsnet" not in names, names
    installed = requirement_names(md.requires(str(proj["name"])) or [])
    assert CORE in installed and "wsnet" not in installed, f"re-run scripts/setup.sh: {installed}"


def test_meta_distribution_names_core_and_every_plugin() -> None:
    meta = project(ROOT / "meta/wsnet-all/pyproject.toml")
    expected = {CORE} | {str(p["name"]) for p in plugin_projects().values()}
    assert requirement_names(meta["dependencies"]) == expected


def test_every_installed_plugin_of_the_workspace_depends_on_the_core() -> None:
    """By entry point, as the CLI finds them (a plugin directory without one is not seen)."""
    workspace = {str(p["name"]) for p in plugin_projects().values()}
    seen = set()
    for ep in md.entry_points(group="wsnet.plugins"):
        if ep.dist is not None and ep.dist.name in workspace:
            seen.add(ep.dist.name)
            assert CORE in requirement_names(ep.dist.requires or []), ep.dist.name
    assert seen == workspace
