#!/usr/bin/env bash
# Installs missing dependencies, builds if needed, and runs the whole test suite with ctest.
# Usage: scripts/test.sh [ctest args]
# The full-size tests generate the random SD 1.5 checkpoints once into $SDR_MODEL_CACHE
# (default ~/.cache/sdruntime/models; about 11 GB) through the ctest fixture make_full_size_models.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh  # a fresh clone (CI) gets the packages the build and tests need
if [ ! -f build/build.ninja ] && [ ! -f build/Makefile ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build -j "$(nproc)"
cd build
ctest --output-on-failure -j 2 --timeout 1800 "$@"
