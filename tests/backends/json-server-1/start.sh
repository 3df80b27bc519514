#!/usr/bin/env bash
# Starts json-server 1.0.0-beta.15 (pinned) on 127.0.0.1 with a fresh copy of this folder's
# db.json: string ids, members embedded in each group, a `deleted` flag on each user.
# Same environment and output as ../json-server/start.sh (API_URL=..., STATE_DIR=...).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export JSON_SERVER_VERSION="${JSON_SERVER_VERSION:-1.0.0-beta.15}"
export DB_FILE="$HERE/db.json"
# json-server 1.0 reloads db.json whenever the file changes, except in production mode; a
# reload that races its own next write loses that write (seen as users vanishing right
# after a 201). Nothing else edits the copy it serves, so the watcher is not needed.
export NODE_ENV=production
exec "$HERE/../json-server/start.sh"
