#!/usr/bin/env bash
# Install wsnet and what it needs on a fresh Debian machine (run as root).
#   scripts/setup.sh          python packages for running wsnet
#   scripts/setup.sh --test   plus system tools and Python tools the test suite uses
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

APT_RUN=(iproute2)
APT_TEST=(iproute2 iputils-ping procps psmisc openssl apache2-utils tinyproxy iperf3)

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

# Every distribution in the workspace: the core, then each plugin (and test-only plugins).
members=(-e core)
for p in plugins/*/; do
    [[ -f "$p/pyproject.toml" ]] && members+=(-e "$p")
done
echo "setup: pip install ${members[*]}"
"$PY" -m pip install -q --disable-pip-version-check "${members[@]}"
if [[ "${1:-}" == "--test" ]]; then
    "$PY" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
fi
