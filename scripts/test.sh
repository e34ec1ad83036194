#!/usr/bin/env bash
# Set up everything the tests need, then lint, type-check and run the whole test suite:
# tests/ (across plugins) in this environment, where every member is installed, then
# core/tests and each plugins/NAME/tests once, in a virtualenv with only that member and what
# it declares (scripts/test_isolated.py). Arguments run just `pytest ARGS` here instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
PY=${PYTHON:-python3}
echo "== ruff";  "$PY" -m ruff check . && "$PY" -m ruff format --check .
echo "== mypy";  "$PY" -m mypy core/src $(ls -d plugins/*/src 2>/dev/null) scripts/test_isolated.py
if (($#)); then
    echo "== pytest $*"
    exec "$PY" -m pytest "$@"
fi
echo "== pytest tests/"
"$PY" -m pytest tests
echo "== isolated: core/tests and plugins/*/tests"
"$PY" scripts/test_isolated.py
