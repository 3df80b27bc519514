#!/usr/bin/env bash
# Replays the shared acceptance cases (../shared/acceptance) against the gateway over each
# backend: `demo` (the bundled directory), `json-server` (a real json-server 0.17.4) and
# `json-server-1` (a real json-server 1.0.0-beta.15), `keystone` (a real OpenStack Keystone,
# tests/backends/keystone).
#   scripts/acceptance.sh [demo|json-server|json-server-1|keystone ...]  (default: all four)
# Env: SCIMGATE_BIN (default target/debug/scimgate), SHARED_DIR (default ../shared),
#      REQUIRE_SHARED=1 makes a missing shared folder an error (CI sets it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
BIN="${SCIMGATE_BIN:-$ROOT/target/debug/scimgate}"
SHARED="${SHARED_DIR:-$ROOT/../shared}"
CASES="$SHARED/acceptance/cases.json"
if [ ! -f "$CASES" ]; then
  if [ "${REQUIRE_SHARED:-0}" = 1 ]; then log "missing $CASES"; exit 1; fi
  log "no $CASES beside the checkout: shared acceptance cases not run (the project's own tests cover them)"
  exit 0
fi
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)
TOKEN="acceptance-$(date +%s)-$RANDOM"
PIDS=()
STATES=() # a started backend's state folder, and beside it (same index) its stop script
STOPS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for i in "${!STATES[@]}"; do STATE_DIR="${STATES[$i]}" "${STOPS[$i]}"; done
  # An empty list leaves `[ -n "" ]` as the last status; under set -e that would turn the
  # script's own exit code into 1.
  return 0
}
trap cleanup EXIT

run_cases() { # name url
  log "replaying $(basename "$CASES") against $1"
  python3 "$SHARED/acceptance/replay.py" "$CASES" "$2" "$TOKEN"
}

demo() {
  local port; port="$(free_port)"
  "$BIN" demo --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$(free_port)" --token "$TOKEN" \
    >/tmp/scimgate-demo-$port.log 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/scim/v2/ServiceProviderConfig" 20
  run_cases "the demo directory" "http://127.0.0.1:$port/scim/v2"
}

real_backend() { # folder under tests/backends, config name, label
  local out api state port
  # A file, not $(...): the server keeps inherited descriptors open, and a capture would wait.
  out="$(mktemp)"
  "$ROOT/tests/backends/$1/start.sh" >"$out"
  api="$(sed -n 's/^API_URL=//p' "$out")"; state="$(sed -n 's/^STATE_DIR=//p' "$out")"
  # Keystone's start.sh also prints the login that config/keystone.yaml reads from the env.
  if grep -q '^KEYSTONE_USER=' "$out"; then
    KEYSTONE_USER="$(sed -n 's/^KEYSTONE_USER=//p' "$out")"
    KEYSTONE_PASSWORD="$(sed -n 's/^KEYSTONE_PASSWORD=//p' "$out")"
    export KEYSTONE_USER KEYSTONE_PASSWORD
  fi
  rm -f "$out"
  STATES+=("$state")
  STOPS+=("$ROOT/tests/backends/$1/stop.sh")
  port="$(free_port)"
  "$BIN" serve --config "$ROOT/config/$2.yaml" --listen "127.0.0.1:$port" --token "$TOKEN" \
    --admin-listen "127.0.0.1:$(free_port)" \
    --backend-url "$api" >"$state/scimgate.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/scim/v2/ServiceProviderConfig" 20
  run_cases "$3" "http://127.0.0.1:$port/scim/v2"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(demo json-server json-server-1 keystone)
status=0
for t in "${targets[@]}"; do
  case "$t" in
    demo) demo || status=1 ;;
    json-server) real_backend json-server json-server "json-server 0.17.4" || status=1 ;;
    json-server-1) real_backend json-server-1 json-server-1 "json-server 1.0.0-beta.15" || status=1 ;;
    keystone) real_backend keystone keystone "Keystone" || status=1 ;;
    *) log "unknown backend $t"; exit 2 ;;
  esac
done
exit $status
