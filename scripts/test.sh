#!/usr/bin/env bash
# Set up everything the tests need, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
PY=${PYTHON:-python3}
echo "== ruff";  "$PY" -m ruff check . && "$PY" -m ruff format --check .
echo "== mypy";  "$PY" -m mypy core/src $(ls -d plugins/*/src 2>/dev/null)
echo "== pytest"
"$PY" -m pytest "$@"
