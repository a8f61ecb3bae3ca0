#!/usr/bin/env bash
# cmake --install into a temporary prefix; then a tiny Go program that imports the binding is
# built with nothing but PKG_CONFIG_PATH set (no CGO_CFLAGS/LDFLAGS, no LD_LIBRARY_PATH) and run:
# it opens the Generator from the environment on a model written by the installed `sdr`.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR GO
set -euo pipefail
BUILD=${1:?build dir}
SRC=${2:?source dir}
GO=${3:-go}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix

cmake --install "$BUILD" --prefix "$PREFIX" > "$TMP/install.log"
for f in lib/libsdr.so include/sdr/sdr.h lib/pkgconfig/sdr.pc bin/sdr; do
  [ -e "$PREFIX/$f" ] || { echo "missing after install: $f"; cat "$TMP/install.log"; exit 1; }
done
PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --exists sdr
echo "pkg-config: $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs sdr)"

APP=$TMP/app
mkdir -p "$APP"
cat > "$APP/go.mod" <<EOM
module example.com/app

go 1.19

require sdruntime/bindings/go v0.0.0

replace sdruntime/bindings/go => $SRC/bindings/go
EOM
cat > "$APP/main.go" <<'EOM'
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	sdr "sdruntime/bindings/go"
)

func main() {
	fmt.Println("version", sdr.Version(), "|", sdr.BackendInfo())
	g, err := sdr.NewGeneratorFromConfig()
	if err != nil {
		fmt.Println("error:", err, errors.Is(err, sdr.ErrModelNotFound))
		os.Exit(3)
	}
	defer g.Close()
	res, err := g.Generate(context.Background(), sdr.Request{Prompt: "a cat", Seed: sdr.Ptr(int64(1))})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(4)
	}
	info, err := sdr.ValidatePNG(res.Images[0].PNG, 0, 0)
	fmt.Printf("provider %s: %dx%d png, %v\n", res.Provider, info.Width, info.Height, err)
}
EOM

# Only PKG_CONFIG_PATH (plus PATH and fresh Go caches: a shared cache may keep the cgo flags of
# an earlier prefix) in the environment.
run_env=(env -i PATH="$PATH" HOME="$TMP" GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath"
         GOPROXY=off GOFLAGS= GOTOOLCHAIN=local PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig")
(cd "$APP" && "${run_env[@]}" "$GO" build -tags sd -o app .)
echo "built the Go program against $PREFIX"

"$PREFIX/bin/sdr" make-test-model "$TMP/tiny.safetensors" > /dev/null
out=$(env -i SD_MODEL_PATH="$TMP/tiny.safetensors" SD_IMAGE_SIZE=64 SD_INFERENCE_STEPS=1 "$APP/app")
echo "$out"
grep -q "^provider local: 64x64 png, <nil>$" <<< "$out"
# The same binary with nothing configured: the clear error.
set +e
out=$(env -i SD_MODEL_PATH="$TMP/none.safetensors" "$APP/app")
rc=$?
set -e
echo "$out"
[ $rc -eq 3 ] && grep -q "model_not_found" <<< "$out" && grep -q "true$" <<< "$out"
echo "install test passed"
