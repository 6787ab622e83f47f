#!/usr/bin/env bash
# Every table of BENCHMARKS.md in one run, printed as Markdown (loopback only):
#   1. replay, plain HTTP and intercepted HTTPS, 1 KiB and 64 KiB: nginx serving the file,
#      harp replay and mitmproxy's server replay serving it from a HAR;
#   2. recording over HTTPS against forwarding only, and mitmproxy's hardump; the stop
#      (HAR written) after 100,000 recorded exchanges;
#   3. load: replay start time and peak memory by HAR size; `harp check`;
#   4. the mock with 10 and 10,000 examples against nginx;
#   5. index build, lookup, miss and near-miss ranking by entry count (cargo bench);
#   6. recording a 1 GiB body (benches/streaming.sh).
#
#   benches/run.sh                 DURATION=5 CONNS=16 REPEAT=5 by default (REPEAT: the
#                                  record/forward pairs, alternated); INSTALL=1 installs
#                                  what is missing (apt nginx-light, cargo oha, pip
#                                  mitmproxy); PARTS="2 3" runs only those parts
#   HARP=path benches/run.sh       measures another harp build
#
# Needs: nginx, oha, python3, openssl, curl, bc. mitmproxy (mitmdump) is optional: its
# rows are skipped, saying so, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
REPEAT=${REPEAT:-5}
PARTS=" ${PARTS:-1 2 3 4 5 6} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
root=$PWD

need() { command -v "$1" >/dev/null 2>&1; }
if [ "${INSTALL:-0}" = 1 ]; then
  need nginx || { apt-get update -qq && apt-get install -y -qq nginx-light; }
  need oha || cargo install oha --locked
  need mitmdump || pip install mitmproxy || pip install --break-system-packages mitmproxy
fi
for tool in nginx oha python3 openssl curl bc; do
  need "$tool" || { echo "benches/run.sh needs $tool (INSTALL=1 installs nginx and oha)" >&2; exit 1; }
done
have_mitm=0
need mitmdump && have_mitm=1

work=$(mktemp -d)
chmod 755 "$work" # nginx workers read the payloads as nobody
pids=()
cleanup() {
  nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin harp
harp=${HARP:-$root/target/release/harp}

# --- data -------------------------------------------------------------------------------
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
for size, name in ((1024, "1k"), (64 * 1024, "64k")):
    open(os.path.join(work, f"payload-{name}.json"), "w").write('{"data":"' + "x" * (size - 11) + '"}')
def entry(url, body):
    return {"startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                        "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": [{"name": "content-type", "value": "application/json"},
                                     {"name": "content-length", "value": str(len(body))}],
                         "content": {"size": len(body), "mimeType": "application/json", "text": body},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
# oha resolves the target's name even through a proxy: the replayed origin is
# localhost, on ports where nothing listens.
entries = [entry(f"{origin}/payload-{n}.json", open(os.path.join(work, f"payload-{n}.json")).read())
           for origin in ("http://localhost:18990", "https://localhost:18991") for n in ("1k", "64k")]
json.dump({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": entries}},
          open(os.path.join(work, "bench.har"), "w"))
for n in (10, 10_000):
    items = [{"name": f"item {i}", "request": {"method": "GET", "url": f"{{{{baseUrl}}}}/items/{i}"},
              "response": [{"name": "ok", "code": 200, "header": [{"key": "Content-Type", "value": "application/json"}],
                            "body": open(os.path.join(work, "payload-1k.json")).read(),
                            "originalRequest": {"method": "GET", "url": f"{{{{baseUrl}}}}/items/{i}"}}]}
             for i in range(n)]
    json.dump({"info": {"name": "bench", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
               "item": items}, open(os.path.join(work, f"mock-{n}.json"), "w"))
PY
# A private CA and a certificate for nginx's TLS port (harp and mitmproxy trust the CA).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/upca.key" -out "$work/upca.pem" -days 2 \
  -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/site.key" -out "$work/site.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/site.csr" -CA "$work/upca.pem" -CAkey "$work/upca.key" -CAcreateserial \
  -out "$work/site.pem" -days 2 -extfile "$work/ext.cnf" 2>/dev/null

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:18480; root $work; }
  server { listen 127.0.0.1:18443 ssl http2; ssl_certificate $work/site.pem; ssl_certificate_key $work/site.key; root $work; }
}
CONF
nginx -c "$work/nginx.conf"
sleep 0.3
curl -sf -o /dev/null http://127.0.0.1:18480/payload-1k.json &&
  curl -sf -o /dev/null --cacert "$work/upca.pem" https://localhost:18443/payload-1k.json ||
  { echo "nginx is not serving on 127.0.0.1:18480 and :18443 (a port taken?): $(cat "$work/nginx-error.log")" >&2; exit 1; }

# --- helpers ----------------------------------------------------------------------------
# load ARGS...: runs oha for DURATION seconds; prints "req/s p99-ms ok-responses".
load() {
  local out
  out=$(oha --no-tui -z "${DURATION}s" -c "$CONNS" "$@" 2>&1)
  local rps p99 ok
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '/99.00% in/ {printf "%.1f", $3}')
  ok=$(echo "$out" | awk '/\[200\]/ {print $2}')
  # No successful answer: say so rather than print the rate of failures.
  [ "${ok:-0}" = 0 ] && rps=failed
  echo "${rps:-0} ${p99:-?} ${ok:-0}"
}
# wait_for FILE TEXT: until TEXT shows in FILE (a server's log).
wait_for() {
  for _ in $(seq 2000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.005; done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}
wait_port() {
  for _ in $(seq 400); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
ratio() {
  case "$1$2" in *failed*) echo "-" ;; *) printf '%.3f' "$(echo "$1 / $2" | bc -l)" ;; esac
}
stop_pid() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
mitm_confdir=$work/mitm
mkdir -p "$mitm_confdir"
start_mitm() { # start_mitm PORT ARGS...
  local port=$1
  shift
  mitmdump -q --listen-host 127.0.0.1 --listen-port "$port" --set confdir="$mitm_confdir" "$@" >"$work/mitm.log" 2>&1 &
  mitm=$!
  pids+=("$mitm")
  wait_port "$port"
}

echo "# harp benchmarks"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "- harp: $("$harp" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $(nginx -v 2>&1 | sed 's/.*: //'), oha $(oha --version | awk '{print $2}'), mitmproxy $( [ $have_mitm = 1 ] && mitmdump --version 2>/dev/null | awk '/Mitmproxy/ {print $2}' || echo 'missing: its rows are skipped (pip install mitmproxy)')"
echo "- load: oha, $CONNS connections, ${DURATION} s per row, keep-alive; client, servers and harp share the cores"
echo

# --- 1. replay --------------------------------------------------------------------------
if part 1; then
"$harp" replay --har "$work/bench.har" --listen 127.0.0.1:18481 --ca-dir "$work/certs" >"$work/replay.log" 2>&1 &
replay=$!
pids+=("$replay")
wait_for "$work/replay.log" listening
curl -s --proxy http://127.0.0.1:18481 http://localhost:18990/payload-1k.json | cmp -s - "$work/payload-1k.json" ||
  { echo "harp replay did not serve the payload" >&2; exit 1; }
if [ $have_mitm = 1 ]; then
  start_mitm 18482 --server-replay "$work/bench.har" --set server_replay_reuse=true --set connection_strategy=lazy
fi
echo "## 1. Replay against nginx and mitmproxy"
echo
echo "| scheme | payload | server | req/s | p99 ms | vs nginx |"
echo "|---|---|---|---:|---:|---:|"
for scheme in http https; do
  for p in 1k 64k; do
    if [ $scheme = http ]; then
      read -r base p99 _ < <(load "http://127.0.0.1:18480/payload-$p.json")
    else
      read -r base p99 _ < <(load --cacert "$work/upca.pem" "https://localhost:18443/payload-$p.json")
    fi
    echo "| $scheme | $p | nginx | $base | $p99 | 1.00 |"
    if [ $scheme = http ]; then origin=http://localhost:18990; else origin=https://localhost:18991; fi
    read -r mine p99 _ < <(load -x http://127.0.0.1:18481 --cacert "$work/certs/ca.pem" "$origin/payload-$p.json")
    echo "| $scheme | $p | harp replay | $mine | $p99 | $(ratio "$mine" "$base") |"
    if [ $have_mitm = 1 ]; then
      read -r theirs p99 _ < <(load -x http://127.0.0.1:18482 --cacert "$mitm_confdir/mitmproxy-ca-cert.pem" "$origin/payload-$p.json")
      echo "| $scheme | $p | mitmproxy server replay | $theirs | $p99 | $(ratio "$theirs" "$base") |"
    fi
  done
done
stop_pid "$replay"
[ $have_mitm = 1 ] && stop_pid "$mitm"
echo
fi

# --- 2. record --------------------------------------------------------------------------
if part 2; then
echo "## 2. Recording against forwarding (HTTPS through the proxy to nginx)"
echo
echo "| payload | proxy | req/s | p99 ms | vs forward | entries written | stop (HAR written) |"
echo "|---|---|---:|---:|---:|---:|---:|"
# record_run MODE PAYLOAD [oha args]: harp record; prints "rps p99 entries stop-seconds".
record_run() {
  local mode=$1 p=$2
  shift 2
  rm -rf "$work/rec"
  mkdir -p "$work/rec"
  local urls=()
  [ "$mode" = forward ] && urls=(--url 'http://nothing.invalid/**')
  rm -f "$work/rec.log"
  "$harp" record --har "$work/rec/rec.har" "${urls[@]}" --upstream-ca "$work/upca.pem" \
    --listen 127.0.0.1:18484 --ca-dir "$work/certs" >"$work/rec.log" 2>&1 &
  local rec=$!
  wait_for "$work/rec.log" listening
  local rps p99 ok
  if [ $# -gt 0 ]; then
    read -r rps p99 ok < <(oha --no-tui -c "$CONNS" "$@" -x http://127.0.0.1:18484 --cacert "$work/certs/ca.pem" \
      "https://localhost:18443/payload-$p.json" 2>&1 | awk '/Requests\/sec/ {r=$2} /99.00% in/ {q=$3} /\[200\]/ {o=$2} END {printf "%.0f %.1f %s\n", r, q, o}')
  else
    read -r rps p99 ok < <(load -x http://127.0.0.1:18484 --cacert "$work/certs/ca.pem" "https://localhost:18443/payload-$p.json")
  fi
  local start end
  start=$(date +%s.%N)
  stop_pid "$rec"
  end=$(date +%s.%N)
  local entries
  entries=$(grep -o 'recorded [0-9]* exchange' "$work/rec.log" | grep -o '[0-9]*' || echo 0)
  echo "$rps $p99 ${entries:-0} $(printf '%.2f' "$(echo "$end - $start" | bc -l)")"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for p in 1k 64k; do
  # Alternated REPEAT times (this machine's run-to-run noise is larger than the
  # difference measured); each column is the median of its runs.
  fwds=() recs=() ratios=() p99s=() p99r=() entries_l=() took_l=()
  for _ in $(seq "$REPEAT"); do
    read -r fwd p99 _ _ < <(record_run forward "$p")
    fwds+=("$fwd") p99s+=("$p99")
    read -r rec p99 entries took < <(record_run record "$p")
    recs+=("$rec") p99r+=("$p99") entries_l+=("$entries") took_l+=("$took")
    ratios+=("$(ratio "$rec" "$fwd")")
  done
  echo "| $p | harp, forwarding only | $(printf '%s\n' "${fwds[@]}" | median) | $(printf '%s\n' "${p99s[@]}" | median) | 1.00 | - | - |"
  echo "| $p | harp record | $(printf '%s\n' "${recs[@]}" | median) | $(printf '%s\n' "${p99r[@]}" | median) | $(printf '%s\n' "${ratios[@]}" | median) (runs: ${ratios[*]}) | $(printf '%s\n' "${entries_l[@]}" | median) | $(printf '%s\n' "${took_l[@]}" | median) s |"
  if [ $have_mitm = 1 ]; then
    start_mitm 18485 --set hardump="$work/mitm.har" --set ssl_verify_upstream_trusted_ca="$work/upca.pem"
    read -r theirs p99 _ < <(load -x http://127.0.0.1:18485 --cacert "$mitm_confdir/mitmproxy-ca-cert.pem" "https://localhost:18443/payload-$p.json")
    start=$(date +%s.%N)
    stop_pid "$mitm"
    took=$(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc -l)")
    echo "| $p | mitmproxy hardump | $theirs | $p99 | $(ratio "$theirs" "$(printf '%s\n' "${fwds[@]}" | median)") | - | $took s |"
  fi
done
read -r rec p99 entries took < <(record_run record 1k -n 100000)
echo "| 1k | harp record, 100,000 requests then SIGINT | $rec | $p99 | - | $entries | $took s |"
echo
fi

# --- 3. load ----------------------------------------------------------------------------
if part 3; then
echo "## 3. Loading a HAR: replay start and peak memory by size"
echo
echo "Browser-shaped entries (benches/make_har.py: about 20 headers, cookies, a 1.5 KB JSON body)."
echo
echo "Each size is started $REPEAT times: the median, then the fastest and slowest."
echo
echo "| entries | HAR size | harp replay: until listening (median; min-max) | peak RSS | RSS / file | harp check (median) |"
echo "|---:|---:|---:|---:|---:|---:|"
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for n in 2850 28500 57000; do
  python3 benches/make_har.py "$work/load.har" "$n"
  bytes=$(stat -c %s "$work/load.har")
  : >"$work/load.times"
  for _ in $(seq "$REPEAT"); do
    rm -f "$work/load.log" # so that the last run's "listening" is not read as this one's
    start=$(date +%s.%N)
    "$harp" replay --har "$work/load.har" --listen 127.0.0.1:18486 --ca-dir "$work/certs" >"$work/load.log" 2>&1 &
    loader=$!
    wait_for "$work/load.log" listening
    took=$(echo "$(date +%s.%N) - $start" | bc -l)
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$loader/status")
    stop_pid "$loader"
    checked=$( { /usr/bin/time -f '%e' "$harp" check "$work/load.har" >/dev/null; } 2>&1 | tail -1)
    echo "$took $hwm $checked" >>"$work/load.times"
  done
  took=$(cut -d' ' -f1 "$work/load.times" | median)
  fastest=$(cut -d' ' -f1 "$work/load.times" | sort -n | head -1)
  slowest=$(cut -d' ' -f1 "$work/load.times" | sort -n | tail -1)
  hwm=$(cut -d' ' -f2 "$work/load.times" | median)
  checked=$(cut -d' ' -f3 "$work/load.times" | median)
  printf '| %s | %.0f MB | %.2f s; %.2f-%.2f s | %.0f MiB | %.1f | %s s |\n' "$n" "$(echo "$bytes / 1000000" | bc -l)" \
    "$took" "$fastest" "$slowest" "$(echo "$hwm / 1024" | bc -l)" "$(echo "$hwm * 1024 / $bytes" | bc -l)" "$checked"
  rm -f "$work/load.har"
done
echo
fi

# --- 4. mock ----------------------------------------------------------------------------
if part 4; then
echo "## 4. The mock against the number of examples (1 KiB example, plain HTTP)"
echo
echo "| examples | server | req/s | p99 ms | vs nginx |"
echo "|---:|---|---:|---:|---:|"
read -r base p99 _ < <(load "http://127.0.0.1:18480/payload-1k.json")
echo "| - | nginx, the same bytes | $base | $p99 | 1.00 |"
for n in 10 10000; do
  rm -f "$work/mock.log"
  "$harp" mock "$work/mock-$n.json" --listen 127.0.0.1:18483 >"$work/mock.log" 2>&1 &
  mock=$!
  wait_for "$work/mock.log" listening
  read -r mine p99 _ < <(load "http://127.0.0.1:18483/items/$((n / 2))")
  echo "| $n | harp mock | $mine | $p99 | $(ratio "$mine" "$base") |"
  stop_pid "$mock"
done
echo
fi
nginx -c "$work/nginx.conf" -s stop

# --- 5. lookup --------------------------------------------------------------------------
if part 5; then
echo "## 5. Index build and lookup by entry count (cargo bench --bench lookup)"
echo
cargo bench --quiet --bench lookup 2>/dev/null
echo
fi

# --- 6. streaming -----------------------------------------------------------------------
if part 6; then
  echo "## 6. Recording big bodies (benches/streaming.sh)"
  echo
  HARP=$harp benches/streaming.sh
fi
