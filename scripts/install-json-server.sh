#!/usr/bin/env bash
# Installs json-server (pinned version, default 0.17.4) into .cache/json-server-VERSION.
# Installs Node.js and npm from Debian first when they are missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${1:-0.17.4}"
JS_HOME="$ROOT/.cache/json-server-$VERSION"
if ! command -v npm >/dev/null 2>&1; then
  echo "[install-json-server] installing nodejs and npm from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -x "$JS_HOME/node_modules/.bin/json-server" ]; then
  mkdir -p "$JS_HOME"
  [ -f "$JS_HOME/package.json" ] || echo '{"name":"scimgate-json-server","private":true}' >"$JS_HOME/package.json"
  echo "[install-json-server] npm install json-server@$VERSION" >&2
  timeout 300 npm install --prefix "$JS_HOME" --no-audit --no-fund --loglevel=error "json-server@$VERSION" >&2
fi
echo "$JS_HOME/node_modules/.bin/json-server"
