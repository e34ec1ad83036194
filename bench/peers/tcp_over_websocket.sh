#!/usr/bin/env bash
# Install tcp-over-websocket 1.1.1 (PyPI; Twisted, vortexpy) for the side-by-side tunnel
# benchmark, in its own venv.
#
#   bench/peers/tcp_over_websocket.sh [VENV]   default VENV: /opt/wsnet-peers/tcp-over-websocket
#
# Prints the venv's python.  Run the service as
#   python -m tcp_over_websocket.run_tcp_over_websocket_service DIR     (DIR/config.json)
# (the console script run_tcp_over_websocket_service ignores DIR).
set -euo pipefail
VENV=${1:-/opt/wsnet-peers/tcp-over-websocket}
PY=${PYTHON:-python3}
if ! "$VENV/bin/python" -c "import tcp_over_websocket" 2>/dev/null; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check tcp-over-websocket==1.1.1
fi
echo "$VENV/bin/python"
