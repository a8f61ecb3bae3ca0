#!/usr/bin/env bash
# Installs the Debian packages sdruntime needs (idempotent; run as root on Debian 12), then
# configures and builds Release into build/. Usage: scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
  libfmt-dev nlohmann-json3-dev libcli11-dev   # formatting, JSON headers, CLI parsing
  zlib1g-dev                                   # inflating deflated zip entries (.ckpt)
  libopenblas-dev                              # GEMM provider behind the kernel interface
  libspng-dev                                  # PNG encoding
  libicu-dev                                   # Unicode classes and case mapping (tokenizer)
  python3 python3-numpy python3-torch python3-regex  # test fixtures: make_random_sd.py, torch.save twin
  golang-go                                    # the Go binding (bindings/go) and its go test
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The CUDA backend module (libsdr-cuda.so) is built too when the CUDA toolkit is installed
# (SDR_CUDA=AUTO; e.g. CUDA 13 under /usr/local/cuda): configure prints a "CUDA backend:" line.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
