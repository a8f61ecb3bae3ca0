#!/usr/bin/env bash
# Runs a client program against the real `sdr serve`: writes the tiny random-weight model into a
# temporary folder, starts the server on 127.0.0.1 with a free port (--port 0), runs
# `CLIENT... URL` (URL = http://127.0.0.1:PORT, also exported as SDR_SERVER_URL), then stops the
# server with SIGTERM. Fails when the client fails or the server does not exit 0. $SDR_SERVE_ARGS, when
# set, adds flags to `sdr serve` (split on spaces).
# Usage: run_against_server.sh SDR_BIN CLIENT [ARGS...]
set -euo pipefail
sdr=$1
shift
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$sdr" make-test-model "$tmp/tiny.safetensors" >/dev/null
# shellcheck disable=SC2086  # SDR_SERVE_ARGS: extra `sdr serve` flags, split on spaces (e.g. --api-key K)
SD_THREADS=1 SDR_LOG_LEVEL=warn "$sdr" serve --host 127.0.0.1 --port 0 -m "$tmp/tiny.safetensors" --steps 2 \
  ${SDR_SERVE_ARGS:-} >"$tmp/stdout" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$tmp/stdout" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "sdr serve exited early" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/stdout" | head -1)
[ -n "$url" ] || { echo "sdr serve did not say where it listens" >&2; exit 1; }
export SDR_SERVER_URL=$url

status=0
"$@" "$url" || status=$?
echo "--- access log ---"
tail -n +2 "$tmp/stdout"
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
[ "$status" -eq 0 ] || { echo "client failed (exit $status)" >&2; exit "$status"; }
[ "$server_status" -eq 0 ] || { echo "sdr serve exited $server_status after SIGTERM" >&2; exit 1; }
echo "ok"
