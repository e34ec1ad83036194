#!/usr/bin/env bash
# Install haproxy (Debian package, 2.6 on Debian 12) for the many-streams benchmark.
#
#   bench/peers/haproxy.sh
#
# Needs root (apt-get).  Prints the path of the haproxy executable.  The benchmark runs
# two haproxy processes it configures itself (mode tcp, nbthread 1, one listen each, in
# the foreground, loopback only); the package's own service is stopped and disabled so
# that nothing else listens.  Another binary: WSNET_BENCH_HAPROXY=/path/to/haproxy.
set -euo pipefail
if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends haproxy >/dev/null
    # The package starts its own service where an init system runs; the benchmark needs none.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi
fi
command -v haproxy || echo /usr/sbin/haproxy
