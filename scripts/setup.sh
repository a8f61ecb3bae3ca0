#!/usr/bin/env bash
# Installs the dependencies (scripts/deps.sh: Debian packages, npm packages for tests), then
# configures and builds Release into build/. Usage: scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The CUDA backend module (libsdr-cuda.so) is built too when the CUDA toolkit is installed
# (SDR_CUDA=AUTO; e.g. CUDA 13 under /usr/local/cuda): configure prints a "CUDA backend:" line.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
