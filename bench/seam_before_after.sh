#!/usr/bin/env bash
# Before/after the backend seam, in one run on one machine: the txt2img bench of an older checkout
# (BEFORE_BIN, built from the same bench source) and of this one on cpu-blas (the same OpenBLAS
# kernels behind the seam) and cpu (TileGemm), interleaved per size so that load changes hit all
# three alike. Usage: [AFTER_BIN=...] bench/seam_before_after.sh BEFORE_BIN MODEL [SIZE ...]
set -euo pipefail
before=$1 model=$2
shift 2
sizes=("${@:-256}")
after="${AFTER_BIN:-$(dirname "$0")/../build/bin/sdr_bench_txt2img}"
grep -m1 "model name" /proc/cpuinfo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${sizes[@]}"; do
  echo "== before (pre-seam, OpenBLAS f32)"; "$before" "$model" "$s" | grep -v '^cpu:'
  echo "== after, --device cpu-blas";        "$after" --device cpu-blas "$model" "$s" | grep -v '^cpu:'
  echo "== after, --device cpu (TileGemm)";  "$after" --device cpu "$model" "$s" | grep -v '^cpu:'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
