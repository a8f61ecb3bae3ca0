#!/usr/bin/env bash
# Issue 14's stage benchmark in one command: the machine's SGEMM and FMA peaks, then every stage (load,
# load to first step, text encode, UNet eval, CFG step, VAE decode; seconds, GFLOP/s, % of peak,
# peak RSS) of the full-size random SD 1.5 at each size, for f32, f16 and q8_0 weights (q8_0:
# everything quantized, and the --ggml-compatible file whose convolution kernels stay f16), one
# process per (weights, size) so each peak RSS is its own.
#
#   bench/stages.sh [SIZE ...]            default sizes: 256 512
#   DEVICE=cpu-blas bench/stages.sh 256   another backend (default cpu)
#   MODELS="f16 q8_0" bench/stages.sh 512 some of the weights only (f32 f16 q8_0 q8_0-ggml)
#
# Needs scripts/make_test_models.sh's f32/f16 checkpoints in SDR_MODEL_CACHE (default
# ~/.cache/sdruntime/models); writes the q8_0 GGUFs there on first use (`sdr convert --type q8_0`;
# delete them after a converter change).
# Not part of the test suite. Record results under bench/results/ with the CPU line it prints.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${BIN_DIR:-$root/build/bin}"
cache="${SDR_MODEL_CACHE:-$HOME/.cache/sdruntime/models}"
sizes=("${@:-256 512}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
# shellcheck disable=SC2206
models=(${MODELS:-f32 f16 q8_0 q8_0-ggml})
file_of() {
  case "$1" in
    f32 | f16) echo "sd15-rand-$1.safetensors" ;;
    *) echo "sd15-rand-$1.gguf" ;;
  esac
}
for m in q8_0 q8_0-ggml; do
  q8="$cache/$(file_of $m)"
  if [[ " ${models[*]} " == *" $m "* && ! -f "$q8" ]]; then
    flags=(--type q8_0)
    [ "$m" = q8_0-ggml ] && flags+=(--ggml-compatible)
    "$bin/sdr" convert "$cache/sd15-rand-f32.safetensors" "$cache/q8_0.tmp.gguf" "${flags[@]}" >/dev/null
    mv "$cache/q8_0.tmp.gguf" "$q8"
  fi
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
peak_line=$("$bin/sdr_bench_stages" --peak)
echo "$peak_line"
peak=$(echo "$peak_line" | sed -n 's/^SGEMM peak \([0-9.]*\).*/\1/p')
for s in "${sizes[@]}"; do
  for m in "${models[@]}"; do
    f="$cache/$(file_of "$m")"
    cat "$f" >/dev/null  # warm page cache: the load figure is the mmap path, not the disk
    "$bin/sdr_bench_stages" --device "${DEVICE:-cpu}" --peak-gflops "$peak" "$f" "$s"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
