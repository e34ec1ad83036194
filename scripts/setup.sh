#!/usr/bin/env bash
# Install wsnet and what it needs on a fresh Debian machine (run as root).
#   scripts/setup.sh          python packages for running wsnet
#   scripts/setup.sh --test   plus system tools and Python tools the test suite uses
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

APT_RUN=(iproute2)
# websockify (plugins/websockify/tests/test_novnc.py): noVNC in Chromium against x11vnc on Xvfb
# nginx: upstream and reference proxy of the http bench group (tests/test_bench_http.py)
APT_TEST=(iproute2 iputils-ping procps psmisc openssl apache2-utils tinyproxy iperf3 curl prometheus
          novnc chromium xvfb x11vnc x11-xserver-utils nginx)

want=("${APT_RUN[@]}")
[[ "${1:-}" == "--test" ]] && want=("${APT_TEST[@]}")
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})) && command -v apt-get >/dev/null; then
    echo "setup: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The core was once the distribution `wsnet`, a name that on PyPI belongs to an unrelated
# project; either one left installed would shadow the `wsnet` package of `wsnet-core`.
# A checkout that was set up before the rename keeps core/src/wsnet.egg-info, which the
# editable install's path entry would still show as an installed `wsnet`.
rm -rf core/src/wsnet.egg-info
if "$PY" -m pip show -q wsnet >/dev/null 2>&1; then
    echo "setup: pip uninstall wsnet (the core is the distribution wsnet-core now)"
    "$PY" -m pip uninstall -y -q --disable-pip-version-check wsnet
fi

# Every distribution in the workspace: the core, each plugin (and test-only plugins), then
# the meta-distribution wsnet-all (which only names them: `pip install wsnet-all`). It has no
# code, so it is not editable: an editable install would add an import hook that every
# Python process of the machine runs at start-up (about 30 ms).
members=(-e core)
for p in plugins/*/; do
    [[ -f "$p/pyproject.toml" ]] && members+=(-e "$p")
done
members+=(./meta/wsnet-all)
echo "setup: pip install ${members[*]}"
"$PY" -m pip install -q --disable-pip-version-check "${members[@]}"
if [[ "${1:-}" == "--test" ]]; then
    "$PY" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
fi
