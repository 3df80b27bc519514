#!/usr/bin/env bash
# Property-based API fuzzing: schemathesis (pinned, from PyPI, in .cache/venv-schemathesis)
# generates requests from openapi/scimgate.yaml, valid and invalid, against `scimgate demo`
# on free ports, and checks every answer: no 5xx, status documented, body conforming to the
# documented schema, content type as documented.
#
#   scripts/api-fuzz.sh [SECONDS]      (time budget of the run; default 90)
#
# Env: SCIMGATE_BIN (default target/debug/scimgate, built when missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh

SCHEMATHESIS_VERSION=4.32.5
BUDGET="${1:-90}"
BIN="${SCIMGATE_BIN:-$ROOT/target/debug/scimgate}"
VENV="$ROOT/.cache/venv-schemathesis"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into .cache/venv-schemathesis"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ -x "$BIN" ] || cargo build --quiet

TOKEN="api-fuzz-$(date +%s)-$RANDOM"
PORT="$(free_port)"
LOG="$(mktemp /tmp/scimgate-api-fuzz-XXXXXX.log)"
"$BIN" demo --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$(free_port)" --token "$TOKEN" \
  >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$PORT/scim/v2/ServiceProviderConfig" 20

log "schemathesis for ${BUDGET}s against the demo directory (gateway log: $LOG)"
status=0
"$VENV/bin/schemathesis" run openapi/scimgate.yaml \
  --url "http://127.0.0.1:$PORT/scim/v2" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "$BUDGET" --workers 1 --request-timeout 10 \
  --no-color || status=$?
if ! kill -0 "$PID" 2>/dev/null; then
  log "FAIL: the gateway exited during the run"
  tail -n 20 "$LOG" >&2
  exit 1
fi
if ((status != 0)); then
  log "FAIL: schemathesis found failures (exit $status)"
  exit 1
fi
log "api fuzz: no failures"
