"""Run core/tests and each plugins/NAME/tests in a virtualenv of its own that holds only that
distribution, the wsnet distributions it depends on (and its ``test`` extra), and the test
tools: a plugin whose code or tests use another plugin it does not declare fails here, as each
instrumentation of opentelemetry-python-contrib is tested alone.

    python scripts/test_isolated.py [NAME ...] [-- PYTEST-ARGS]

NAME is ``core`` or a directory of plugins/ (default: all of them; plugins/*/tests are found,
not listed).  Third-party packages are built once into a wheelhouse, then installed into every
virtualenv without the index (``--no-index --find-links``); wsnet's own distributions are
installed editable.  A plugin without tests gets a load check: ``wsnet --version`` lists it.
Exit status 1 if anything failed.  Documented in docs/plugins.md, "Testing a plugin alone".
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from wsnet.testing_venv import Venv, clean_env, make_venv

ROOT = Path(__file__).resolve().parents[1]
PIP_QUIET = ["--no-index", "--find-links"]
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "pythonpath="]  # not tests/


def project(member: Path) -> dict[str, Any]:
    with (member / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"])


def dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def members() -> dict[str, Path]:
    """Every distribution of the workspace (core and plugins/*) by normalised name."""
    dirs = [ROOT / "core", *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]
    return {dist_key(project(d)["name"]): d for d in dirs}


def requirements(member: Path, extras: bool) -> list[str]:
    meta = project(member)
    reqs = list(meta.get("dependencies", []))
    if extras:
        reqs += meta.get("optional-dependencies", {}).get("test", [])
    return [str(r) for r in reqs]


def req_name(req: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", req)
    if match is None:
        raise SystemExit(f"test_isolated: cannot read the requirement {req!r}")
    return dist_key(match.group(0))


def local_closure(target: Path, known: dict[str, Path]) -> list[Path]:
    """``target`` and the workspace distributions it needs, through dependencies (and the
    target's own ``test`` extra), each once."""
    seen: list[Path] = []
    todo = [(target, True)]
    while todo:
        member, top = todo.pop()
        if member in seen:
            continue
        seen.append(member)
        todo += [
            (known[n], False) for r in requirements(member, top) if (n := req_name(r)) in known
        ]
    return seen


def build_wheelhouse(wheelhouse: Path, known: dict[str, Path]) -> None:
    """Wheels of every third-party requirement of the workspace, the test tools and setuptools
    (the editable installs build without isolation): downloaded once per run, from pip's cache
    when it has them."""
    third = {r for m in known.values() for r in requirements(m, True) if req_name(r) not in known}
    tools = ["-r", str(ROOT / "requirements-test.txt"), "setuptools>=64"]
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-w", str(wheelhouse), *tools, *sorted(third)], check=True,
                   timeout=900, env=clean_env())  # fmt: skip


def install(venv: Venv, target: Path, known: dict[str, Path], wheelhouse: Path) -> None:
    offline = [*PIP_QUIET, str(wheelhouse)]
    editable = [
        ("-e", f"{m}[test]" if m == target else str(m)) for m in local_closure(target, known)
    ]
    tools = ["--no-build-isolation", "-r", str(ROOT / "requirements-test.txt")]
    steps = [["setuptools>=64"], [*tools, *(a for pair in editable for a in pair)]]
    for args in steps:
        res = venv.pip_install(*offline, *args)
        if res.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(args)} failed:\n{res.stderr[-2000:]}")


def load_check(venv: Venv, target: Path) -> bool:
    """No tests: the plugin's entry points load and ``wsnet --version`` lists each."""
    names = project(target).get("entry-points", {}).get("wsnet.plugins", {})
    res = venv.run("wsnet", "--version")
    print(res.stdout + res.stderr, end="")
    return res.returncode == 0 and all(f"plugin {n} " in res.stdout for n in names)


def run_one(target: Path, known: dict[str, Path], wheelhouse: Path, tmp: Path,
            pytest_args: list[str]) -> tuple[bool, float, float]:  # fmt: skip
    """(passed, seconds to install, seconds to test) for one member."""
    t0 = time.monotonic()
    venv = make_venv(tmp / target.name)
    try:
        install(venv, target, known, wheelhouse)
    except RuntimeError as exc:  # what it declares cannot be installed: that member fails
        print(exc, flush=True)
        return False, time.monotonic() - t0, 0.0
    t1 = time.monotonic()
    tests = target / "tests"
    if any(tests.glob("test_*.py")):
        argv = [str(venv.bin / "python"), *PYTEST, str(tests), *pytest_args]
        ok = subprocess.run(argv, cwd=ROOT, env=clean_env(), timeout=1800).returncode == 0
    else:
        ok = load_check(venv, target)
    return ok, t1 - t0, time.monotonic() - t1


def main(argv: list[str]) -> int:
    cut = argv.index("--") if "--" in argv else len(argv)
    names, pytest_args = argv[:cut], argv[cut + 1 :]
    known = members()
    targets = [m for m in known.values() if not names or m.name in names]
    if names and len(targets) != len(set(names)):
        raise SystemExit(
            f"test_isolated: unknown member in {names}: {[m.name for m in known.values()]}"
        )
    results: list[tuple[str, bool, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="wsnet-isolated-") as tmp:
        t0 = time.monotonic()
        build_wheelhouse(Path(tmp) / "wheelhouse", known)
        print(f"== isolated: wheelhouse in {time.monotonic() - t0:.1f} s", flush=True)
        for target in targets:
            print(f"== isolated: {target.relative_to(ROOT)}", flush=True)
            ok, setup, test = run_one(
                target, known, Path(tmp) / "wheelhouse", Path(tmp), pytest_args
            )
            results.append((target.name, ok, setup, test))
    for name, ok, setup, test in results:
        mark = "ok  " if ok else "FAIL"
        print(f"   {mark} {name:<16} venv+install {setup:5.1f} s  tests {test:6.1f} s")
    print(f"== isolated: {time.monotonic() - t0:.0f} s in all")
    return 0 if all(ok for _, ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
