#!/usr/bin/env bash
# Install websockify 0.13.0 (PyPI) for the side-by-side tunnel benchmark, in its own venv.
#
#   bench/peers/websockify.sh [VENV]      default VENV: /opt/wsnet-peers/websockify
#
# Prints the path of the websockify executable.  Nothing of websockify is kept here.
set -euo pipefail
VENV=${1:-/opt/wsnet-peers/websockify}
PY=${PYTHON:-python3}
if [[ ! -x "$VENV/bin/websockify" ]]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check websockify==0.13.0
fi
echo "$VENV/bin/websockify"
