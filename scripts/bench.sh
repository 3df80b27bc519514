#!/usr/bin/env bash
# The benchmark: the gateway measured against the backend it fronts, in one run.
#
#   scripts/bench.sh [--rounds N] [--duration SECONDS] [--users N] [--scale 10000,50000,100000]
#                    [--connections N] [--json FILE] [--smoke]
#   scripts/bench.sh --soak MINUTES [--soak-interval SECONDS] [--soak-fraction 0.7] [--smoke]
#
# Builds the release binary and the static hyper server (examples/static_user.rs), installs
# wrk from Debian when it is missing, then runs scripts/bench/bench.py: every case at 64
# connections, alternating, --rounds rounds (default 3 x 5 s per case), each gateway figure
# as a ratio to the direct backend figure of the same round, medians against the targets of
# issue 6, start-up time, peak RSS with every user cached, and the scale series.
# `bench.py --help` lists every option. Timings never fail the run; an error, a non-2xx
# answer or a crashed process does (exit 1).
#
# --soak MINUTES: only the soak. The Entra-like mix (bench.py's SOAK_MIX: filter and id
# reads, PATCHes, POSTs, member adds and removes, deletes) at 64 connections for 10 s gives
# its maximum rate. Then it runs at 70% of that for MINUTES, in back-to-back runs of 20 s,
# and prints each run's requests, errors, p99 and the gateway's RSS, and then a verdict.
# An error, a non-2xx answer or a crash fails it; timings and RSS never do.
#
# --smoke: about 30 seconds in all (1 round of 1 s per case, 2,000 users, a small scale
# series; with --soak, 2,000 users, 3 s for the maximum rate and runs of 5 s). scripts/test.sh
# runs it so the benchmark cannot rot. Its figures mean nothing.
# --debug: use the debug build (scripts/test.sh has built it already); figures mean nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh

args=()
profile=release
for a in "$@"; do
  case "$a" in
    --smoke)
      args+=(--rounds 1 --duration 1 --users 2000 --hot-users 200 --startups 2
        --scale 1000,2000 --group-members 300 --soak-interval 5 --soak-max-seconds 3) ;;
    --debug) profile=debug ;;
    *) args+=("$a") ;;
  esac
done

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends wrk >/dev/null
fi
log "cargo build ($profile: scimgate, examples/static_user)"
if [ "$profile" = release ]; then
  cargo build --quiet --release --bin scimgate --example static_user
else
  cargo build --quiet --bin scimgate --example static_user
fi
exec python3 scripts/bench/bench.py --bin "$ROOT/target/$profile/scimgate" \
  --static-bin "$ROOT/target/$profile/examples/static_user" "${args[@]}"
