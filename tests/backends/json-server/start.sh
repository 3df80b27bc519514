#!/usr/bin/env bash
# Starts json-server (pinned, default 0.17.4) on 127.0.0.1 with a fresh copy of db.json.
# Env: JSON_SERVER_PORT (default: a free port), JSON_SERVER_VERSION (0.17.4), DB_FILE (the
#      seed, default db.json beside this script),
#      STATE_DIR (default: a new temp dir), JSON_SERVER_HOME (npm install dir, default
#      .cache/json-server-$VERSION in the repository).
# Prints on stdout: API_URL=http://127.0.0.1:PORT and STATE_DIR=... (for stop.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=../../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
VERSION="${JSON_SERVER_VERSION:-0.17.4}"
JS_HOME="${JSON_SERVER_HOME:-$ROOT/.cache/json-server-$VERSION}"
PORT="${JSON_SERVER_PORT:-$(free_port)}"
STATE_DIR="${STATE_DIR:-$(mktemp -d)}"
BIN="$JS_HOME/node_modules/.bin/json-server"
if [ ! -x "$BIN" ]; then
  "$ROOT/scripts/install-json-server.sh" "$VERSION" >&2
fi
# ./public: json-server's static folder, which 1.0 in production mode insists on.
mkdir -p "$STATE_DIR/public"
cp "${DB_FILE:-$HERE/db.json}" "$STATE_DIR/db.json"
# `exec` so the recorded pid is json-server's own, not a wrapper shell's.
(cd "$STATE_DIR" && exec nohup "$BIN" --host 127.0.0.1 --port "$PORT" db.json >"$STATE_DIR/json-server.log" 2>&1 </dev/null) &
echo $! >"$STATE_DIR/json-server.pid"
if ! wait_http "http://127.0.0.1:$PORT/users" 30; then
  tail -n 30 "$STATE_DIR/json-server.log" >&2
  exit 4
fi
echo "API_URL=http://127.0.0.1:$PORT"
echo "STATE_DIR=$STATE_DIR"
