#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every check.
#
#   scripts/test.sh
#
# 1. installs json-server 0.17.4 and 1.0.0-beta.15 (and Node.js/npm from Debian if missing)
#    into .cache/;
# 2. cargo fmt --check and cargo clippy (-D warnings);
# 3. scripts/validate-deploy.sh: the deploy artefacts (installs promtool/prometheus from
#    Debian and kubernetes-validate into .cache/venv);
# 4. cargo test with the real-backend tests (a real json-server is started per test, a real
#    Prometheus by the scrape test, a real Keystone per Keystone test: its start.sh installs
#    python3-keystone from Debian when missing);
# 5. the shared acceptance cases (../shared/acceptance) against the demo directory and a
#    real json-server 0.17.4 and 1.0 and a real OpenStack Keystone (python3-keystone from
#    Debian), when ../shared exists beside the checkout;
# 6. scripts/conformance.sh: the scim2-tester conformance checks (pinned, installed into
#    .cache/venv-scim2) against the demo directory and a real json-server;
# 7. scripts/fuzz.sh: each cargo-fuzz target for FUZZ_SECONDS (default 30; needs nightly);
# 8. scripts/api-fuzz.sh: schemathesis against `scimgate demo` for API_FUZZ_SECONDS (default 90);
# 9. a smoke run of the benchmark (scripts/bench.sh --smoke --debug; installs wrk) and of the
#    soak (--soak 0.25: 15 s of the mixed traffic): each fails on any error, non-2xx answer or
#    crashed process, never on timings.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh

if ! command -v curl >/dev/null 2>&1; then
  log "installing curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends curl >/dev/null
fi
SCIMGATE_JSON_SERVER_BIN="$(scripts/install-json-server.sh 0.17.4)"
export SCIMGATE_JSON_SERVER_BIN
SCIMGATE_JSON_SERVER_1_BIN="$(scripts/install-json-server.sh 1.0.0-beta.15)"
export SCIMGATE_JSON_SERVER_1_BIN

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --quiet --all-targets --features real-backends -- -D warnings
log "deploy artefacts"
scripts/validate-deploy.sh
SCIMGATE_PROMETHEUS_BIN="${SCIMGATE_PROMETHEUS_BIN:-$(command -v prometheus)}"
export SCIMGATE_PROMETHEUS_BIN
log "cargo test"
cargo test --features real-backends
log "shared acceptance cases"
cargo build --quiet
scripts/acceptance.sh demo json-server json-server-1 keystone
log "scim2-tester conformance checks"
scripts/conformance.sh demo json-server
log "fuzz targets"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
log "API fuzzing"
scripts/api-fuzz.sh "${API_FUZZ_SECONDS:-90}"
log "benchmark smoke run (fails on errors or a crash, never on timings)"
scripts/bench.sh --smoke --debug
log "soak smoke run (fails on errors or a crash, never on timings)"
scripts/bench.sh --smoke --debug --soak 0.25
