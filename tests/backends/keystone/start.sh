#!/usr/bin/env bash
# Starts OpenStack Keystone's identity API v3 (Debian package python3-keystone; installed
# with apt-get when missing and running as root) on 127.0.0.1 with a fresh SQLite database,
# and bootstraps an admin user in the `default` domain.
# Provisioned users and groups live in their own domain, `scim` (created here with the fixed
# id that mappings/keystone's `scope` names; the bootstrap admin gets the admin role on it): config/keystone.yaml logs in scoped to that domain, so
# the gateway lists and creates only there and the admin account is never offered to an IdP
# to read, update or deprovision.
# Env: KEYSTONE_PORT (default: a free port), STATE_DIR (default: a new temp dir),
#      KEYSTONE_USER (admin), KEYSTONE_PASSWORD (default: random).
# Prints on stdout: API_URL=http://127.0.0.1:PORT/v3, STATE_DIR=..., KEYSTONE_USER=...,
# KEYSTONE_PASSWORD=... (for the gateway and for stop.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=../../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
if ! command -v keystone-wsgi-public >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "python3-keystone is missing (apt-get install python3-keystone)"; exit 3; fi
  log "installing python3-keystone"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >&2
  timeout 600 apt-get install -y -qq --no-install-recommends python3-keystone >&2
fi
PORT="${KEYSTONE_PORT:-$(free_port)}"
STATE_DIR="${STATE_DIR:-$(mktemp -d)}"
USER_NAME="${KEYSTONE_USER:-admin}"
PASSWORD="${KEYSTONE_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')}"
K="$STATE_DIR"
mkdir -p "$K"
cat >"$K/keystone.conf" <<CONF
[DEFAULT]
log_file = $K/keystone.log
[database]
# SQLite allows one writer at a time: wait for the lock instead of answering 500.
connection = sqlite:///$K/keystone.db?timeout=30
[token]
provider = fernet
[fernet_tokens]
key_repository = $K/fernet
[credential]
key_repository = $K/cred
CONF
manage() { keystone-manage --config-file "$K/keystone.conf" "$@" >>"$K/setup.log" 2>&1; }
manage db_sync
# WAL journal (kept in the file). In the default rollback journal, the first user create
# after a DELETE /users/{id} commits while another connection of the same (single-threaded)
# process still holds a read lock: the commit waits out the busy timeout on itself and
# answers 500 "database is locked". In WAL, readers never block the writer.
python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchone()[0])' "$K/keystone.db" >>"$K/setup.log"
manage fernet_setup --keystone-user root --keystone-group root
manage credential_setup --keystone-user root --keystone-group root
manage bootstrap --bootstrap-username "$USER_NAME" --bootstrap-password "$PASSWORD" \
  --bootstrap-public-url "http://127.0.0.1:$PORT/v3"
# `exec` so the recorded pid is the server's own, not a wrapper shell's.
(OS_KEYSTONE_CONFIG_FILES="$K/keystone.conf" exec nohup keystone-wsgi-public --host 127.0.0.1 --port "$PORT" \
  >"$K/server.log" 2>&1 </dev/null) &
echo $! >"$K/keystone.pid"
if ! wait_http "http://127.0.0.1:$PORT/v3" 60; then
  tail -n 30 "$K/server.log" >&2
  exit 4
fi
# The provisioning domain, over the API (keystone-manage cannot create domains).
if ! KS_URL="http://127.0.0.1:$PORT/v3" KS_USER="$USER_NAME" KS_PASSWORD="$PASSWORD" \
  python3 "$HERE/scim_domain.py" >>"$K/setup.log" 2>&1; then
  tail -n 20 "$K/setup.log" >&2
  exit 5
fi
echo "API_URL=http://127.0.0.1:$PORT/v3"
echo "STATE_DIR=$STATE_DIR"
echo "KEYSTONE_USER=$USER_NAME"
echo "KEYSTONE_PASSWORD=$PASSWORD"
