#!/usr/bin/env bash
# The bounded load test of `sdr serve`: starts the server on 127.0.0.1 (a free port) over the tiny
# random-weight model with a pool of 2 and a queue of 16, sends 50 clients x 2 requests at once
# (build/bin/sdr_bench_server_load), and prints requests, the 200/429 split, p50/p99 latency and
# the server's peak RSS. Fails on any 5xx or dropped request, an image that does not decode,
# /metrics counts that differ from what the clients saw, or a server that does not exit 0 on
# SIGTERM afterwards.
# Usage: scripts/server_load_test.sh [BUILD_DIR] [--clients 50] [--requests 2] [--size 64] [--steps 2]
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
sdr=$build/bin/sdr
bench=$build/bin/sdr_bench_server_load
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$sdr" make-test-model "$tmp/tiny.safetensors" >/dev/null
# One compute thread per context: the two contexts of the pool share the machine's cores.
SD_THREADS=${SD_THREADS:-1} SDR_LOG_LEVEL=warn "$sdr" serve --host 127.0.0.1 --port 0 -m "$tmp/tiny.safetensors" \
  --max-concurrent 2 --max-queue 16 >"$tmp/stdout" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$tmp/stdout" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "sdr serve exited early" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/stdout" | head -1)
[ -n "$url" ] || { echo "sdr serve did not say where it listens" >&2; exit 1; }

status=0
"$bench" "$url" --pid "$server_pid" "$@" || status=$?
echo "access log: $(($(wc -l <"$tmp/stdout") - 1)) lines; 5xx lines: $(grep -c ' status=5' "$tmp/stdout" || true)"
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
[ "$server_status" -eq 0 ] || { echo "sdr serve exited $server_status after SIGTERM" >&2; exit 1; }
exit "$status"
