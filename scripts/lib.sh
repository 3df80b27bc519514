# Shared helpers for the project's scripts (sourced, not run).

# A free TCP port on 127.0.0.1 (asked from the kernel; never a fixed well-known port).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [SECONDS]: polls until URL answers (any HTTP status) or the time is up.
wait_http() {
  local url="$1" limit="${2:-20}" i
  for ((i = 0; i < limit * 10; i++)); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2
  return 1
}

log() { echo "[$(basename "$0")] $*" >&2; }
