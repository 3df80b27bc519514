#!/usr/bin/env bash
# Stops the json-server 1.0 started by start.sh: STATE_DIR must be the value start.sh printed.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$HERE/../json-server/stop.sh"
