#!/usr/bin/env bash
# Every GPU check of the CUDA backend in one command, for a machine with an NVIDIA GPU (sized for
# the H200 device machine: about 5 to 8 minutes, most of it the build). Nothing in the normal test
# suite needs a GPU; this is what does.
#
#   scripts/gpu_check.sh --prepare   on a development machine, beside ../shared: copies what a GPU
#                                    machine given only the checkout lacks into .gpu/ (ignored by
#                                    git, ~40 MB): the CLIP merges, the golden cases and
#                                    make_random_sd.py (.gpu/shared), and the Debian 12 packages of
#                                    the build dependencies (.gpu/debs, by `apt-get download`)
#   scripts/gpu_check.sh             on the GPU machine (device tool: carry [".gpu"]), in order:
#     1. configure and build Release with SDR_CUDA=ON for sm_$SDR_GPU_ARCH (default 90) into
#        build-gpu/, from the system's packages or the unpacked .gpu/debs; meanwhile, the full-size
#        random f32 checkpoint (make_random_sd.py --seed 1234, SHA-256 checked) into $SDR_MODEL_CACHE
#     2. `sdr info --system` (GPU, VRAM, driver and runtime, libraries, SD_MAX_CONCURRENT guidance)
#     3. the conformance test: every op of the cuda backend in f32, f16 and bf16 vs the reference
#     4. the GPU tests: tiny model vs the CPU, graph replay vs live launches, OutOfVRAM (device
#        allocation and a small VRAM budget) and then the right image, weights held once
#     5. the golden cases on cuda: f32 at the CPU's tolerances, f16 at rel L2 <= 2e-2 per tensor and
#        decoded PSNR >= 35 dB
#     6. the benchmark: UNet eval ms, CFG step ms and it/s, VAE decode ms, 20-step 512x512 seconds,
#        VRAM held with 1 and 2 contexts, OutOfVRAM then a correct image (sdr_bench_gpu)
#     7. `sdr generate` on cuda:0 through the command line
#   Writes report.md, gpu_check.log, bench.json and two PNGs to $OUT (the device tool's) or to
#   build-gpu/report. Exits 0 when every check passed.
#
# Environment: SDR_GPU_ARCH (90), SDR_GPU_BUILD (build-gpu), SDR_MODEL_CACHE (build-gpu/models),
# SDR_SHARED_DIR (else ../shared, ./shared or .gpu/shared), SDR_CUDA_LIB_PATH (found when cuBLASLt
# lives only in Python's nvidia packages).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DEBS=(libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev zlib1g-dev zlib1g libopenblas-dev libopenblas0
      libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0 libspng-dev libspng0 libicu-dev
      libicu72 libgtest-dev)
MODEL_SHA=7074ae868ca6438d71bef64be453e6aebe438e08c26da1a32e31773b40aebe74

if [ "${1:-}" = "--prepare" ]; then
  SRC=${SDR_SHARED_DIR:-$ROOT/../shared}
  [ -f "$SRC/data/clip-vit-l-14-merges.txt" ] || { echo "no shared data at $SRC" >&2; exit 2; }
  rm -rf .gpu/shared
  mkdir -p .gpu/shared/data .gpu/shared/tools .gpu/shared/golden .gpu/debs
  cp "$SRC/data/clip-vit-l-14-merges.txt" .gpu/shared/data/
  cp "$SRC/tools/make_random_sd.py" .gpu/shared/tools/
  cp -r "$SRC/golden/sd15-rand" .gpu/shared/golden/
  if [ "${2:-}" != "--no-debs" ]; then
    (cd .gpu/debs && apt-get download "${DEBS[@]}") || { echo "apt-get download failed" >&2; exit 1; }
  fi
  du -sh .gpu .gpu/*
  echo "ready: run scripts/gpu_check.sh on the GPU machine with .gpu carried along"
  exit 0
fi

OUTDIR=${OUT:-$ROOT/build-gpu/report}
mkdir -p "$OUTDIR"
LOG=$OUTDIR/gpu_check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
BUILD=${SDR_GPU_BUILD:-$ROOT/build-gpu}
ARCH=${SDR_GPU_ARCH:-90}
export SDR_MODEL_CACHE=${SDR_MODEL_CACHE:-$BUILD/models}
mkdir -p "$BUILD/logs" "$SDR_MODEL_CACHE"
T0=$(date +%s)
SUMMARY=()
FAILED=0
note() { echo "[$(($(date +%s) - T0)) s] $*"; }

# step NAME TIMEOUT CMD...: runs a check, its output into the log, its verdict into the report.
step() {
  local name=$1 limit=$2
  shift 2
  local start
  start=$(date +%s)
  note "== $name: $*"
  timeout "$limit" "$@" 2>&1 | tee "$BUILD/logs/$name.log"
  local rc=${PIPESTATUS[0]}
  local verdict=PASS
  [ "$rc" -eq 0 ] || { verdict="FAIL (exit $rc)"; FAILED=1; }
  SUMMARY+=("| $name | $verdict | $(($(date +%s) - start)) s |")
  return "$rc"
}

# ---- reference data --------------------------------------------------------------------------
SHARED=""
for c in "${SDR_SHARED_DIR:-}" "$ROOT/../shared" "$ROOT/shared" "$ROOT/.gpu/shared"; do
  if [ -n "$c" ] && [ -f "$c/data/clip-vit-l-14-merges.txt" ]; then SHARED=$(cd "$c" && pwd); break; fi
done
if [ -z "$SHARED" ]; then
  echo "no reference data (data/clip-vit-l-14-merges.txt): run 'scripts/gpu_check.sh --prepare' where ../shared is, and carry .gpu"
  exit 2
fi
note "reference data: $SHARED"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv

# ---- the checkpoint, in the background --------------------------------------------------------
MODEL=$SDR_MODEL_CACHE/sd15-rand-f32.safetensors
MODEL_PID=""
if [ ! -f "$MODEL" ]; then
  note "writing $MODEL in the background"
  ( python3 "$SHARED/tools/make_random_sd.py" "$MODEL.tmp" --seed 1234 --dtype f32 &&
    got=$(sha256sum "$MODEL.tmp" | cut -d' ' -f1) &&
    { [ "$got" = "$MODEL_SHA" ] || echo "WARNING: sha256 $got differs from $MODEL_SHA: goldens will not match"; } &&
    mv "$MODEL.tmp" "$MODEL" ) >"$BUILD/logs/make_model.log" 2>&1 &
  MODEL_PID=$!
fi

# ---- build dependencies carried as Debian packages ---------------------------------------------
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DSDR_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$ARCH" "-DSDR_SHARED_DIR=$SHARED")
if ls .gpu/debs/*.deb >/dev/null 2>&1; then
  DEPS=/tmp/sdr-deps
  mkdir -p "$DEPS"
  for d in .gpu/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$d" "$DEPS"
    else
      (tmp=$(mktemp -d) && cd "$tmp" && ar x "$ROOT/$d" && tar -xf data.tar.* -C "$DEPS" && rm -rf "$tmp")
    fi
  done
  LIBDIR=$DEPS/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$LIBDIR:$LIBDIR/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  LINK="-Wl,-rpath-link,$LIBDIR:$LIBDIR/openblas-pthread"
  # Their .pc files say prefix=/usr: find the libraries by name under the prefix instead.
  CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$DEPS/usr" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON
               "-DCMAKE_EXE_LINKER_FLAGS=$LINK" "-DCMAKE_SHARED_LINKER_FLAGS=$LINK" "-DCMAKE_MODULE_LINKER_FLAGS=$LINK")
  note "build dependencies from .gpu/debs, unpacked in $DEPS"
fi

# ---- the CUDA toolkit and cuBLASLt -------------------------------------------------------------
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do [ -x "$d/nvcc" ] && export PATH=$d:$PATH && break; done
fi
CUDA_ROOT=$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")
if ! ls "$CUDA_ROOT"/lib64/libcublasLt.so* "$CUDA_ROOT"/targets/*/lib/libcublasLt.so* >/dev/null 2>&1; then
  # cuBLASLt only in a Python environment's nvidia packages: build against it, load it from there.
  LT=$(python3 - <<'PY' 2>/dev/null
import glob, site
for sp in site.getsitepackages():
    for f in sorted(glob.glob(sp + "/nvidia/**/libcublasLt.so.*", recursive=True)):
        print(f); raise SystemExit
PY
)
  if [ -n "$LT" ]; then
    LTDIR=$(dirname "$LT")
    INC=$(ls -d "$LTDIR"/../include 2>/dev/null | head -1)
    export SDR_CUDA_LIB_PATH=$LTDIR${SDR_CUDA_LIB_PATH:+:$SDR_CUDA_LIB_PATH}
    CMAKE_ARGS+=("-DCUDA_cublasLt_LIBRARY=$LT")
    [ -n "$INC" ] && CMAKE_ARGS+=("-DCMAKE_CXX_FLAGS=-I$INC")
    note "cuBLASLt from $LT (SDR_CUDA_LIB_PATH=$SDR_CUDA_LIB_PATH)"
  fi
fi
GEN=(-G Ninja)
command -v ninja >/dev/null || GEN=()

# ---- 1. build -----------------------------------------------------------------------------------
step configure 300 cmake -S . -B "$BUILD" "${GEN[@]}" "${CMAKE_ARGS[@]}" || { echo "configure failed"; exit 1; }
step build 900 cmake --build "$BUILD" -j "$(nproc)" --target sdr sdr_cuda sdr_conformance_test sdr_gpu_tests \
  sdr_bench_gpu || { echo "build failed"; exit 1; }
BIN=$BUILD/bin

# ---- 2-4. info, conformance, GPU tests ----------------------------------------------------------
step info 60 "$BIN/sdr" info --system
"$BIN/sdr" info --system --json >"$BUILD/logs/info.json" 2>&1
step conformance 600 "$BIN/sdr_conformance_test"
step gpu_tests 600 "$BIN/sdr_gpu_tests" --gtest_filter='CudaBackendTest.*'

# ---- 5. goldens ---------------------------------------------------------------------------------
if [ -n "$MODEL_PID" ]; then
  note "waiting for the checkpoint"
  wait "$MODEL_PID"
  cat "$BUILD/logs/make_model.log"
fi
if [ -f "$MODEL" ]; then
  step goldens 900 "$BIN/sdr_gpu_tests" --gtest_filter='Cases/CudaGoldenTest.*'
  # ---- 6. benchmark -----------------------------------------------------------------------------
  step bench 900 "$BIN/sdr_bench_gpu" "$MODEL" --json "$OUTDIR/bench.json" --png "$OUTDIR"
  # ---- 7. the command line ----------------------------------------------------------------------
  step cli_generate 300 "$BIN/sdr" generate -m "$MODEL" -p "a photograph of an astronaut riding a horse" \
    --device cuda:0 --steps 20 --seed 42 -o "$BUILD/cli_512.png"
else
  SUMMARY+=("| goldens, bench, cli_generate | FAIL (no checkpoint: see make_model.log) | - |")
  FAILED=1
fi

# ---- report -------------------------------------------------------------------------------------
{
  echo "# GPU check of the CUDA backend"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), sm_$ARCH, $(($(date +%s) - T0)) s"
  echo
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  echo
  echo "| step | verdict | time |"
  echo "|---|---|---|"
  printf '%s\n' "${SUMMARY[@]}"
  echo
  echo "## Figures"
  echo '```'
  grep -h "\[ figures \]" "$BUILD"/logs/conformance.log "$BUILD"/logs/gpu_tests.log "$BUILD"/logs/goldens.log 2>/dev/null
  echo '```'
  echo
  echo "## Benchmark (f16, 512x512, CFG 7.5, dpm++2m)"
  echo '```'
  sed -n '/^measure/,$p' "$BUILD/logs/bench.log" 2>/dev/null
  echo '```'
  echo
  echo "## sdr info --system"
  echo '```'
  cat "$BUILD/logs/info.log" 2>/dev/null
  echo '```'
  echo
  echo "## Failures"
  echo '```'
  grep -h -E "FAILED|Failure|error:|CHECK FAILED" "$BUILD"/logs/*.log 2>/dev/null | head -60
  echo '```'
} >"$OUTDIR/report.md"
note "report: $OUTDIR/report.md"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
