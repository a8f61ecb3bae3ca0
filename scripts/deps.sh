#!/usr/bin/env bash
# Installs what sdruntime needs to build and test, idempotently: the Debian packages below with
# apt-get (only those missing; run as root, or with sudo), then the npm packages the tests use
# (from the npm registry, pinned by package-lock.json files, only when missing).
# Called by scripts/setup.sh and scripts/test.sh, so a fresh clone needs nothing else.
# Usage: scripts/deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
  libfmt-dev nlohmann-json3-dev libcli11-dev   # formatting, JSON headers, CLI parsing
  zlib1g-dev                                   # inflating deflated zip entries (.ckpt)
  libopenblas-dev                              # GEMM provider behind the kernel interface
  libspng-dev                                  # PNG encoding and checking
  libcurl4-openssl-dev                         # HTTP client of the cloud image providers
  libssl-dev                                   # SHA-256 of model files (OpenSSL libcrypto, SHA extensions)
  libcpp-httplib-dev                           # HTTP server of `sdr serve`; the tests' fake OpenAI / Azure servers
  curl                                         # tests: A1111's request shape sent with curl
  chromium                                     # tests: the web page in a headless browser (tests/web)
  libicu-dev                                   # Unicode classes and case mapping (tokenizer)
  python3 python3-numpy python3-torch python3-regex  # test fixtures: make_random_sd.py, torch.save twin
  golang-go                                    # the Go binding (bindings/go) and its go test
)

# Node.js and npm (the official OpenAI Node client test, tests/node; the web page test, tests/web): Debian's packages, unless a
# node with npm is already there (e.g. NodeSource's nodejs, which bundles npm and conflicts with
# Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

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

# npm packages used by tests (each folder holds a package.json and a package-lock.json).
for dir in $(find tests -name package-lock.json -not -path "*/node_modules/*" -printf '%h\n' 2>/dev/null); do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
