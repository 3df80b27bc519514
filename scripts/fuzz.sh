#!/usr/bin/env bash
# Coverage-guided fuzzing of the hostile-input surfaces (cargo-fuzz / libFuzzer, fuzz/):
# filter parser, PATCH-path parser, request-body decoding and mapping-file loading.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 30 seconds for each target)
#
# Needs the nightly toolchain (libFuzzer's instrumentation is nightly-only) and fails loudly
# without it. Installs cargo-fuzz (pinned) into .cache/cargo-fuzz. Each target starts from its
# committed seeds (fuzz/corpus/<target>/seed-*, written by fuzz/seed.py) plus what earlier runs
# on this machine found (kept beside them, ignored by git). Any crash, panic, timeout (an
# input taking over 10 s) or out-of-memory fails the script; the input that did it is in
# fuzz/artifacts/<target>/, to replay with `cargo +nightly fuzz run TARGET FILE`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh

CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH="${1:-30}"
shift || true

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  log "FAIL: the nightly Rust toolchain is not installed; cargo-fuzz needs it (rustup toolchain install nightly)"
  exit 1
fi
FUZZ_BIN="$ROOT/.cache/cargo-fuzz/bin"
if ! "$FUZZ_BIN/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .cache/cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$ROOT/.cache/cargo-fuzz"
fi
export PATH="$FUZZ_BIN:$PATH"

# No sanitizer: the crate forbids unsafe code, so AddressSanitizer would only slow the runs;
# debug assertions stay on so arithmetic overflow is a crash.
FLAGS=(--sanitizer none --debug-assertions --release)
if (($# > 0)); then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
log "building ${TARGETS[*]}"
cargo +nightly fuzz build "${FLAGS[@]}"

failed=()
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  dict=()
  if [[ -f "fuzz/dict/$target.dict" ]]; then dict=("-dict=fuzz/dict/$target.dict"); fi
  out="fuzz/artifacts/$target/last-run.log"
  log "fuzzing $target for ${SECONDS_EACH}s"
  if cargo +nightly fuzz run "${FLAGS[@]}" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 "${dict[@]}" >"$out" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
    tail -n 40 "$out" >&2
  fi
  # Summary: executions, speed, coverage and corpus size from libFuzzer's last lines.
  fuzz_stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$out" | tail -n 1; }
  runs="$(fuzz_stat number_of_executed_units)"
  speed="$(fuzz_stat average_exec_per_sec)"
  slowest="$(fuzz_stat slowest_unit_time_sec)"
  rss="$(fuzz_stat peak_rss_mb)"
  last="$(grep -E '^#[0-9]+' "$out" | tail -n 1 || true)"
  cov="$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')"
  ft="$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')"
  corpus="$(find "fuzz/corpus/$target" -type f | wc -l)"
  echo "fuzz $target: $status, ${SECONDS_EACH}s, execs=${runs:-?} (${speed:-?}/s), cov=$cov, ft=$ft, corpus=$corpus, slowest=${slowest:-?}s, rss=${rss:-?}MB"
done

if ((${#failed[@]} > 0)); then
  log "FAIL: crashes in ${failed[*]} (inputs under fuzz/artifacts/)"
  exit 1
fi
