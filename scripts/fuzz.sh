#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer under ASan + UBSan (tests/fuzz).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   default: 60 s each, every target
#   FUZZ_RUNS=1000000 scripts/fuzz.sh 0 [TARGET...]    a fixed number of executions instead
#
# Configures and builds build-fuzz (clang, -DSDR_FUZZ=ON; FUZZ_JOBS parallel jobs, default 2),
# writes the seed corpora (our own writers and fixtures) to build-fuzz/fuzz/seeds, then runs the
# targets one at a time with -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30
# -max_len=$FUZZ_MAX_LEN (default 4096; the corpus does not raise it). Inputs that
# add coverage accumulate in build-fuzz/fuzz/corpus/<target>; a crash, leak, UB report, timeout
# or OOM leaves its input in build-fuzz/fuzz/artifacts/<target>/ and the log in
# build-fuzz/fuzz/logs/<target>.log. Keep each crashing input under
# tests/fuzz/regressions/<target>/ once fixed (the unit suite replays them).
# Prints executions, wall time and the outcome per target; exits 1 if any target failed.
# SDR_FUZZ_MERGES names the CLIP merges for the tokenizer target (default: ../shared/data, or
# a small embedded list where that is absent; "embedded" forces the embedded list).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL_TARGETS=(safetensors gguf zip ckpt pickle tokenizer config)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
RUNS="${FUZZ_RUNS:-}"
if [ -z "$RUNS" ] && [ "$SECONDS_PER_TARGET" = 0 ]; then
  echo "give SECONDS_PER_TARGET > 0 or set FUZZ_RUNS" >&2
  exit 2
fi

BUILD=build-fuzz
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSDR_FUZZ=ON
fi
cmake --build "$BUILD" -j "${FUZZ_JOBS:-2}" --target sdr_fuzzers

OUT="$BUILD/fuzz"
rm -rf "$OUT/seeds"
"$BUILD/bin/sdr_fuzz_seeds" "$OUT/seeds"

limit=(-max_total_time="$SECONDS_PER_TARGET")
[ -n "$RUNS" ] && limit=(-runs="$RUNS")
summary=()
failed=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/bin/fuzz_$t"
  [ -x "$bin" ] || { echo "unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "$OUT/logs"
  dict=()
  [ -f "$OUT/seeds/$t.dict" ] && dict=(-dict="$OUT/seeds/$t.dict")
  log="$OUT/logs/$t.log"
  echo "== fuzz_$t ${limit[*]}"
  start=$(date +%s%N)
  rc=0
  "$bin" "${limit[@]}" -max_len="${FUZZ_MAX_LEN:-4096}" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$t/" "${dict[@]}" "$OUT/corpus/$t" "$OUT/seeds/$t" > "$log" 2>&1 || rc=$?
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  if [ "$rc" -eq 0 ]; then
    outcome="ok"
  else
    failed=1
    outcome="FAILED (rc $rc): $(grep -m1 -o 'check failed: .*\|ERROR: [A-Za-z]*Sanitizer: [a-z-]*\|ERROR: libFuzzer: [a-z-]*\|runtime error: .*' "$log" || echo see log)"
    artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    [ -n "$artifact" ] && outcome+="; input: $artifact"
  fi
  line=$(printf "%-12s %10s execs %6d.%01d s  slowest unit %ss  %s" "$t" "${execs:-?}" \
    $((wall_ms / 1000)) $((wall_ms % 1000 / 100)) "${slowest:-?}" "$outcome")
  echo "$line"
  summary+=("$line")
done
echo
echo "== summary (logs in $OUT/logs)"
printf '%s\n' "${summary[@]}"
exit "$failed"
