#!/usr/bin/env bash
# Replay throughput against a bare server on the same payload, measured in one run:
#   nginx serving the bytes directly (the limit), and harp replay serving them from a HAR
#   as a proxy (wrk sends absolute-form requests to it, as a proxied client does).
# Optional peer: mitmproxy's server replay on the same HAR, when `mitmdump` is on PATH.
# Also: harp mock with 10 and 10,000 examples against nginx; HAR load time and peak
# memory against entry count (`harp check`).
# Loopback only. Needs nginx (nginx-light), wrk and python3; run from the project root:
#   benches/throughput.sh            (DURATION=10 CONNS=32 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
work=$(mktemp -d)
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet --bin harp
harp=${HARP:-$PWD/target/release/harp}  # HARP=path compares another build

python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
for size, name in ((1024, "1k"), (64 * 1024, "64k")):
    body = ('{"data":"' + "x" * (size - 11) + '"}')
    open(os.path.join(work, f"payload-{name}.json"), "w").write(body)
def entry(url, body):
    return {"startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                        "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": [{"name": "content-type", "value": "application/json"}],
                         "content": {"size": len(body), "mimeType": "application/json", "text": body},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
entries = [entry(f"http://bench.test/payload-{n}.json", open(os.path.join(work, f"payload-{n}.json")).read()) for n in ("1k", "64k")]
json.dump({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": entries}}, open(os.path.join(work, "bench.har"), "w"))
# Postman collections of 10 and 10,000 examples with 1 KiB bodies, for the mock.
for n in (10, 10_000):
    items = [{"name": f"item {i}", "request": {"method": "GET", "url": f"{{{{baseUrl}}}}/items/{i}"},
              "response": [{"name": "ok", "code": 200, "header": [{"key": "Content-Type", "value": "application/json"}],
                            "body": open(os.path.join(work, "payload-1k.json")).read(),
                            "originalRequest": {"method": "GET", "url": f"{{{{baseUrl}}}}/items/{i}"}}]}
             for i in range(n)]
    json.dump({"info": {"name": "bench", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
               "item": items}, open(os.path.join(work, f"mock-{n}.json"), "w"))
for n in (1_000, 10_000, 100_000):
    many = [entry(f"http://bench.test/items/{i}", '{"id":%d,"name":"item %d"}' % (i, i)) for i in range(n)]
    json.dump({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": many}}, open(os.path.join(work, f"many-{n}.har"), "w"))
PY

cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:18480; root $work; }
}
CONF
nginx -c "$work/nginx.conf"

"$harp" replay --har "$work/bench.har" --listen 127.0.0.1:18481 --ca-dir "$work/certs" >"$work/harp.log" 2>&1 &
for _ in $(seq 100); do grep -q listening "$work/harp.log" && break; sleep 0.05; done

cat > "$work/proxy.lua" <<'LUA'
-- Absolute-form requests, as a client configured with HTTP_PROXY sends them.
init = function(args)
  wrk.path = "http://bench.test" .. args[1]
  wrk.headers["Host"] = "bench.test"
end
LUA

rps() { awk '/Requests\/sec/ {print $2}'; }
p99() { awk '/ 99%/ {print $2}'; }
echo "payload  server            req/s      p99"
for p in 1k 64k; do
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:18480/payload-$p.json")
  base=$(echo "$out" | rps)
  printf '%-8s %-14s %10s %8s\n' "$p" nginx "$base" "$(echo "$out" | p99)"
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$work/proxy.lua" http://127.0.0.1:18481 -- "/payload-$p.json")
  mine=$(echo "$out" | rps)
  printf '%-8s %-14s %10s %8s   (%.2f x nginx)\n' "$p" "harp replay" "$mine" "$(echo "$out" | p99)" "$(echo "$mine / $base" | bc -l)"
  if command -v mitmdump >/dev/null 2>&1; then
    mitmdump -q --listen-host 127.0.0.1 --listen-port 18482 --server-replay "$work/bench.har" \
      --set server_replay_reuse=true --set connection_strategy=lazy >"$work/mitm.log" 2>&1 &
    mitm=$!
    for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/18482) 2>/dev/null && break; sleep 0.1; done
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$work/proxy.lua" http://127.0.0.1:18482 -- "/payload-$p.json")
    theirs=$(echo "$out" | rps)
    printf '%-8s %-14s %10s %8s   (%.2f x nginx)\n' "$p" "mitmproxy" "$theirs" "$(echo "$out" | p99)" "$(echo "$theirs / $base" | bc -l)"
    kill $mitm; wait $mitm 2>/dev/null || true
  fi
done
curl -s --proxy http://127.0.0.1:18481 http://bench.test/payload-1k.json | cmp -s - "$work/payload-1k.json" && echo "(harp served the same bytes as nginx)"

echo
echo "mock, 1 KiB example: examples  req/s      p99"
base=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:18480/payload-1k.json" | rps)
printf '%-18s %-9s %10s\n' "nginx (same bytes)" "-" "$base"
for n in 10 10000; do
  "$harp" mock "$work/mock-$n.json" --listen 127.0.0.1:18483 >"$work/mock.log" 2>&1 &
  mock=$!
  for _ in $(seq 200); do grep -q listening "$work/mock.log" && break; sleep 0.05; done
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:18483/items/$((n / 2))")
  mine=$(echo "$out" | rps)
  printf '%-18s %-9s %10s %8s   (%.2f x nginx)\n' "harp mock" "$n" "$mine" "$(echo "$out" | p99)" "$(echo "$mine / $base" | bc -l)"
  kill -INT $mock; wait $mock 2>/dev/null || true
done

echo
echo "record vs forward (plain HTTP through harp to nginx, 1 KiB and 64 KiB)"
cat > "$work/origin.lua" <<'LUA'
-- Absolute-form requests for nginx, through harp as the proxy.
init = function(args)
  wrk.path = "http://127.0.0.1:18480" .. args[1]
  wrk.headers["Host"] = "127.0.0.1:18480"
end
LUA
for p in 1k 64k; do
  for mode in forward record; do
    rm -f "$work/rec.har"
    if [ $mode = forward ]; then urls=(--url 'http://nothing.invalid/**'); else urls=(); fi
    "$harp" record --har "$work/rec.har" "${urls[@]}" --listen 127.0.0.1:18484 --ca-dir "$work/certs" >"$work/rec.log" 2>&1 &
    rec=$!
    for _ in $(seq 200); do grep -q listening "$work/rec.log" && break; sleep 0.05; done
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$work/origin.lua" http://127.0.0.1:18484 -- "/payload-$p.json")
    n=$(echo "$out" | rps)
    if [ $mode = forward ]; then fwd=$n; ratio=""; else ratio=$(printf '(%.2f x forward)' "$(echo "$n / $fwd" | bc -l)"); fi
    start=$(date +%s.%N)
    kill -INT $rec; wait $rec 2>/dev/null || true
    stop=$(echo "$(date +%s.%N) - $start" | bc -l)
    entries=$(grep -o 'recorded [0-9]* exchange' "$work/rec.log" | grep -o '[0-9]*' || echo 0)
    printf '%-8s %-8s %10s %8s %s  stop %.2f s, %s entries written\n' "$p" "$mode" "$n" "$(echo "$out" | p99)" "$ratio" "$stop" "$entries"
  done
done
nginx -c "$work/nginx.conf" -s stop 2>/dev/null

echo
echo "entries   HAR size   harp check: seconds, peak RSS"
for n in 1000 10000 100000; do
  size=$(du -h "$work/many-$n.har" | cut -f1)
  stats=$( { /usr/bin/time -f '%e s, %M KiB' "$harp" check "$work/many-$n.har" >/dev/null; } 2>&1 | tail -1)
  printf '%-9s %-10s %s\n' "$n" "$size" "$stats"
done
