#!/usr/bin/env bash
# The test command: installs whatever the end-to-end tests drive that is missing on this
# machine (curl, wget, git, a JDK, Python with requests, grpcio and websockets, Node with newman,
# undici and playwright-core, Chromium with NSS's certutil, nginx, tinyproxy), then runs
# the whole suite. Safe to run again: it installs only what is missing.
#
#   scripts/test.sh              # everything
#   scripts/test.sh record::     # extra arguments go to `cargo test` (a name filter)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
python3 -c "import requests" >/dev/null 2>&1 || need+=(python3-requests)
python3 -c "import yaml" >/dev/null 2>&1 || need+=(python3-yaml)
# The client stacks `harp run` sets up by environment (tests/e2e/stacks.rs).
command -v wget >/dev/null 2>&1 || need+=(wget)
command -v git >/dev/null 2>&1 || need+=(git)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
# A real browser for the browser tests, and certutil to make it trust harp's CA.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
# nginx with TLS and HTTP/2: the real upstream of the transparency tests.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
# tinyproxy: the "corporate proxy" harp reaches the network through (--upstream-proxy).
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi
# A real gRPC server and client (unary and server streaming) through harp.
if ! python3 -c 'import grpc' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing grpcio"
  python3 -m pip install -q grpcio 2>/dev/null \
    || python3 -m pip install -q --break-system-packages grpcio
fi
# websockets 15 or later (it reaches ws:// and wss:// through HTTP(S)_PROXY with CONNECT):
# the WebSocket client and server of tests/e2e/websocket.rs.
if ! python3 -c 'import sys, websockets; sys.exit(int(websockets.__version__.split(".")[0]) < 15)' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing websockets"
  python3 -m pip install -q 'websockets>=15' 2>/dev/null \
    || python3 -m pip install -q --break-system-packages 'websockets>=15'
fi
# newman (Postman's CLI runner) drives a converted collection against `harp mock`.
command -v newman >/dev/null 2>&1 || as_root npm install -g --no-audit --no-fund newman >/dev/null
# undici: README's recipe for Node's fetch through a proxy on Node older than 24.
[ -d "$(npm root -g 2>/dev/null)/undici" ] \
  || as_root npm install -g --no-audit --no-fund undici@6 >/dev/null
# playwright-core drives Debian's Chromium through the inspector page (no browser download).
[ -d "$(npm root -g 2>/dev/null)/playwright-core" ] \
  || as_root npm install -g --no-audit --no-fund playwright-core >/dev/null

cargo test "$@"
