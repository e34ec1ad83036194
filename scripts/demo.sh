#!/usr/bin/env bash
# The main job, on loopback: two wsnet nodes linked over WebSocket, traffic crossing the link,
# then a TCP tunnel added at run time carrying an HTTP request.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
LA=${DEMO_PORT:-17860}; CA=$((LA + 7)); CB=$((LA + 8)); HP=$((LA + 20)); LP=$((LA + 21))
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
pids=(); trap cleanup EXIT

echo "== node 'hub' listens for links on 127.0.0.1:$LA (control API on :$CA)"
"$PY" -m wsnet run --name hub --listen "127.0.0.1:$LA" --ctl-port "$CA" --plugins log,tcp >"$WORK/hub.log" 2>&1 &
pids+=($!)
echo "== node 'edge' dials ws://127.0.0.1:$LA/wsnet (control API on :$CB)"
"$PY" -m wsnet run --name edge --listen none --dial "ws://127.0.0.1:$LA/wsnet" --ctl-port "$CB" \
    --plugins log,tcp >"$WORK/edge.log" 2>&1 &
pids+=($!)

ctl() { "$PY" -m wsnet ctl --ctlurl "http://127.0.0.1:$1/rpc" "${@:2}"; }
for _ in $(seq 1 100); do
    [[ "$(ctl "$CA" links --json 2>/dev/null)" == *'"edge"'* ]] && break
    sleep 0.1
done
echo; echo "== hub: links";            ctl "$CA" links
echo; echo "== edge: routes";          ctl "$CB" routes
echo; echo "== edge -> hub: ping";     ctl "$CB" ping hub count=5
echo; echo "== edge -> hub: 4 channels x 256 MiB (1 GiB), SHA-256 verified at the far end"
ctl "$CB" speedtest hub bytes=268435456 channels=4
echo; echo "== hub: links after the transfer (byte counters)"; ctl "$CA" links
echo; echo "== event log of the hub (wsnet-log plugin)"; grep "wsnet.events" "$WORK/hub.log" | tail -n 5

echo; echo "== a TCP tunnel at run time: hub's web server (127.0.0.1:$HP) on edge's 127.0.0.1:$LP"
mkdir -p "$WORK/www" && echo "hello through a wsnet tunnel" >"$WORK/www/index.html"
(cd "$WORK/www" && exec "$PY" -m http.server "$HP" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
ctl "$CA" addtunnel web connect="127.0.0.1:$HP"
"$PY" -m wsnet tcp forward "$LP=web@hub" --ctlurl "http://127.0.0.1:$CB/rpc"
for _ in $(seq 1 100); do
    body=$("$PY" -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$LP/', timeout=2).read().decode().strip())" 2>/dev/null) && break
    sleep 0.1
done
echo "GET http://127.0.0.1:$LP/ -> ${body:-(no answer)}"
"$PY" -m wsnet tcp list --ctlurl "http://127.0.0.1:$CB/rpc"
[[ "${body:-}" == "hello through a wsnet tunnel" ]]
