#!/usr/bin/env bash
# Install etherws 1.3 (PyPI) for the side-by-side L2 benchmark, in its own venv.
#
#   bench/peers/etherws.sh [VENV]      default VENV: /opt/wsnet-peers/etherws
#
# etherws 1.3 (2015) is Python 2 code and Debian 12 has no Python 2, so as installed it
# stops at once:  ModuleNotFoundError: No module named 'urllib2'.  To measure it anyway
# this script makes the smallest port that runs: lib2to3, then seven mechanical fixes for
# bytes vs str and one for Tornado 6 (listed below; each must apply exactly, or the script
# stops).  Its switching, its frame handling and its one-frame-per-message link format
# are unchanged.  The control CLI's `setif` still fails (struct on str): set addresses
# with `ip addr` instead.  Nothing of etherws is kept in this repository.
set -euo pipefail
VENV=${1:-/opt/wsnet-peers/etherws}
PY=${PYTHON:-python3}

if [[ ! -x "$VENV/bin/etherws" ]]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check etherws==1.3
fi
MOD=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/etherws.py
if grep -q "wsnet-bench py3 port" "$MOD"; then
    echo "$VENV/bin/etherws"
    exit 0
fi
"$VENV/bin/python" -W ignore -m lib2to3 -w -n "$MOD" >/dev/null 2>&1

"$VENV/bin/python" - "$MOD" <<'PY'
import re
import sys

path = sys.argv[1]
src = open(path).read()
FIXES = [  # (what, regex, replacement, expected count)
    ("frame bytes index to int", r"ord\(self\.data\[(\d+)\]\)", r"self.data[\1]", 6),
    ("MAC format", r"b\.encode\('hex'\) for b in mac", "'%02x' % b for b in mac", 1),
    ("hex of bytes", r"\.encode\('hex'\)", ".hex()", 6),
    ("read buffers are bytes", r"return ''\.join\(buf\)", "return b''.join(buf)", 2),
    ("base64 of str", r"base64\.b64encode\('%s:%s' % \(([^)]*)\)\)",
     r"base64.b64encode(('%s:%s' % (\1)).encode()).decode()", 2),
    ("urllib2 left by 2to3", r"urllib2\.(getproxies|proxy_bypass)", r"urllib.request.\1", 2),
    ("urlopen data is bytes", r"urlopen\(req, json\.dumps\(data\)", "urlopen(req, json.dumps(data).encode()", 2),
    ("tornado 6 awaits open()'s result",
     r"            return self\._switch\.register_port\(self\)\n(\s+finally:\n\s+self\._logger\.info\('connected: %s', self\.request\.remote_ip\))",
     r"            self._switch.register_port(self)\n\1", 1),
]
for what, pattern, repl, count in FIXES:
    src, n = re.subn(pattern, repl, src)
    if n != count:
        sys.exit(f"etherws py3 port: {what}: {n} matches, expected {count}")
open(path, "w").write(src + "\n# wsnet-bench py3 port applied\n")
PY
echo "$VENV/bin/etherws"
