#!/usr/bin/env bash
# Stops the Keystone started by start.sh: STATE_DIR must be the value start.sh printed.
set -uo pipefail
STATE_DIR="${STATE_DIR:?set STATE_DIR to what start.sh printed}"
PIDFILE="$STATE_DIR/keystone.pid"
if [ -s "$PIDFILE" ]; then
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null && grep -qa keystone "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
fi
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$STATE_DIR"
exit 0
