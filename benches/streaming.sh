#!/usr/bin/env bash
# Memory of the streaming core: harp's peak RSS while recording one 1 GiB response
# (--content attach, then embed), and its RSS while 8 clients that never read hold
# 200 MB responses open. nginx serves the files over plain HTTP on loopback; curl and
# python3 are the clients. Prints a Markdown table for BENCHMARKS.md.
#
#   benches/streaming.sh          # SIZE_MB=1024 SLOW_MB=200 SLOW_CLIENTS=8 by default
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
SLOW_MB=${SLOW_MB:-200}
SLOW_CLIENTS=${SLOW_CLIENTS:-8}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "needs nginx (apt-get install nginx-light)"; exit 1; }
cargo build --release -q
HARP=${HARP:-$PWD/target/release/harp}

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/rec"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
head -c $((SLOW_MB * 1024 * 1024)) /dev/urandom > "$work/www/slow.bin"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(port)
cat > "$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $work/b; proxy_temp_path $work/p;
  fastcgi_temp_path $work/f; uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$NPORT; root $work/www; } }
EOF
"$NGINX" -c "$work/nginx.conf" -p "$work" &
sleep 0.5

# Starts harp with "$@", waits for its listening line; sets HPID and HADDR.
start_harp() {
  rm -f "$work/harp.out"
  "$HARP" "$@" --listen 127.0.0.1:0 --ca-dir "$work/certs" > "$work/harp.out" 2> "$work/harp.err" &
  HPID=$!
  for _ in $(seq 100); do
    HADDR=$(grep -o 'listening on http://[0-9.:]*' "$work/harp.out" | sed 's#listening on ##' || true)
    [ -n "$HADDR" ] && return 0
    sleep 0.1
  done
  echo "harp did not start"; cat "$work/harp.err"; exit 1
}
# Peak RSS (VmHWM) of HPID in MiB, sampled until it exits.
watch_peak() {
  local peak=0 v
  while kill -0 "$HPID" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' /proc/$HPID/status 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$peak" ] && peak=$v
    sleep 0.05
  done
  echo $((peak / 1024))
}

record_one() { # $1 = attach|embed
  rm -rf "$work/rec"/*
  start_harp record --har "$work/rec/big.har" --content "$1"
  ( watch_peak > "$work/peak" ) &
  local watcher=$!
  local t0=$(date +%s.%N)
  curl -sS -x "$HADDR" "http://127.0.0.1:$NPORT/big.bin" -o /dev/null
  local t1=$(date +%s.%N)
  kill -INT "$HPID"; wait "$HPID" || true; wait $watcher
  local secs=$(echo "$t1 - $t0" | bc)
  printf '| record %d MiB, `--content %s` | %s MiB | %.1f s | %s |\n' "$SIZE_MB" "$1" "$(cat "$work/peak")" "$secs" \
    "$(du -sm "$work/rec" | cut -f1) MiB on disk"
}

echo "| case | harp peak RSS | client time | notes |"
echo "|---|---:|---:|---|"
record_one attach
record_one embed

slow_clients() { # $1 = label, rest = harp args
  local label=$1; shift
  start_harp "$@"
  python3 - "$HADDR" "$NPORT" "$SLOW_CLIENTS" <<'EOF' &
import socket, sys, time
host, port = sys.argv[1].split("//")[-1].split(":")
socks = []
for _ in range(int(sys.argv[3])):
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET http://127.0.0.1:%s/slow.bin HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
    socks.append(s)
time.sleep(6)
EOF
  local py=$!
  sleep 5
  local rss=$(awk '/VmRSS/ {print $2}' /proc/$HPID/status)
  wait $py || true
  kill -INT "$HPID"; wait "$HPID" || true
  printf '| %d clients not reading %d MB, %s | %s MiB (RSS after 5 s) | — | |\n' "$SLOW_CLIENTS" "$SLOW_MB" "$label" $((rss / 1024))
}
rm -rf "$work/rec"/*
slow_clients "recording (attach)" record --har "$work/rec/slow.har" --content attach
slow_clients "forwarding only" record --har "$work/rec/none.har" --url 'http://nothing.invalid/**'
