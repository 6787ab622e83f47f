#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz (libFuzzer).
# Needs `cargo install cargo-fuzz` and a nightly toolchain (`rustup toolchain install
# nightly`); without nightly it falls back to RUSTC_BOOTSTRAP=1 on the stable one.
# Crashes land in fuzz/artifacts/TARGET/; turn each into a regression test under
# tests/fuzz_regressions/ (see tests/e2e/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi
targets=$("${FUZZ[@]}" list)
# Seeds: the repo's real HAR and collection fixtures (under 200 KB), and small
# hand-made inputs in fuzz/seeds/TARGET.
seed() { # TARGET FILES...
  local t=$1; shift
  [ -n "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ] && return 0
  mkdir -p "fuzz/corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "fuzz/corpus/$t/" || true; done
}
seed har_json $(find tests/fixtures/har -name '*.har' -size -200k)
seed collection $(find tests/fixtures/postman -name '*.json' -size -200k)
for t in glob replay_matcher mock_matcher har_archive rules; do seed "$t" fuzz/seeds/"$t"/*; done
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t: ${SECONDS_EACH}s"
  "${FUZZ[@]}" run "$t" "fuzz/corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|Done)|artifact_prefix|Test unit written" || true
done
