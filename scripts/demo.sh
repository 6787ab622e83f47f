#!/usr/bin/env bash
# harp's main job on the bundled example: serve hars/site/ from a local origin, record the
# API calls a client makes through harp into target/demo/demo.har, and show the result.
# Loopback only; needs cargo, python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin harp
harp=target/debug/harp
out=target/demo
mkdir -p "$out"
rm -f "$out/demo.har"

# A local origin serving the bundled site.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory hars/site >"$out/origin.log" 2>&1 &
origin_pid=$!
trap 'kill $origin_pid 2>/dev/null || true; [ -n "${harp_pid:-}" ] && kill $harp_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'port' "$out/origin.log" && break; sleep 0.05; done
origin_port=$(grep -o 'port [0-9]*' "$out/origin.log" | head -1 | cut -d' ' -f2)
origin="http://127.0.0.1:$origin_port"

# The recording proxy, keeping only /api/ calls.
"$harp" record --har "$out/demo.har" --url '**/api/**' --listen 127.0.0.1:0 --ca-dir "$out/certs" >"$out/harp.log" &
harp_pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$out/harp.log" && break; sleep 0.05; done
proxy=$(grep -o 'http://[0-9.:]*' "$out/harp.log" | head -1)
echo "origin $origin, harp $proxy"

# A client going through harp.
curl -sS --proxy "$proxy" "$origin/api/users.json"; echo
curl -sS --proxy "$proxy" "$origin/index.html" >/dev/null   # proxied, not recorded

kill -INT $harp_pid
wait $harp_pid
harp_pid=
tail -n 1 "$out/harp.log"
python3 - "$out/demo.har" <<'PY'
import json, sys
har = json.load(open(sys.argv[1]))
for e in har["log"]["entries"]:
    r = e["response"]
    print(f'{e["request"]["method"]} {e["request"]["url"]} -> {r["status"]} {r["content"]["mimeType"]}, {r["content"]["size"]} bytes')
PY
