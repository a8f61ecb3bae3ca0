#!/usr/bin/env bash
# Generates the full-size random SD 1.5 test checkpoints once into the model cache and checks
# them. Usage: scripts/make_test_models.sh PATH_TO_SDR_BINARY
#   sd15-rand-f32.safetensors   ../shared/tools/make_random_sd.py --seed 1234 --dtype f32 (sha256 checked)
#   sd15-rand-f16.safetensors   the same, --dtype f16 (sha256 checked)
#   sd15-rand-f16.ckpt          torch.save of the f16 tensors ({"state_dict": ...}), by Debian's python3-torch
#   sd15-rand-f16.gguf          sdr convert of the f16 safetensors
set -euo pipefail
SDR=${1:?usage: make_test_models.sh PATH_TO_SDR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SDR_SHARED_DIR:-$ROOT/../shared}
CACHE=${SDR_MODEL_CACHE:-$HOME/.cache/sdruntime/models}
PY=/usr/bin/python3
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

declare -A SHA=(
  [f32]=7074ae868ca6438d71bef64be453e6aebe438e08c26da1a32e31773b40aebe74
  [f16]=06429bee7b776f27f8a42a811cba3d869aafdfd7efd404628b198e3b2307676d
)

# done_marker FILE: true when FILE was generated and checked before (stamp records its size).
fresh() { [ -f "$1" ] && [ -f "$1.ok" ] && [ "$(stat -c %s "$1")" = "$(cat "$1.ok")" ]; }
stamp() { stat -c %s "$1" > "$1.ok"; }

for dt in f32 f16; do
  out="$CACHE/sd15-rand-$dt.safetensors"
  if ! fresh "$out"; then
    echo "generating $out"
    rm -f "$out.ok"
    "$PY" "$SHARED/tools/make_random_sd.py" "$out.tmp" --seed 1234 --dtype "$dt"
    got=$(sha256sum "$out.tmp" | cut -d' ' -f1)
    if [ "$got" != "${SHA[$dt]}" ]; then
      echo "sha256 mismatch for $out: $got" >&2
      exit 1
    fi
    mv "$out.tmp" "$out"
    stamp "$out"
  fi
done

ckpt="$CACHE/sd15-rand-f16.ckpt"
if ! fresh "$ckpt"; then
  echo "writing $ckpt with torch.save"
  rm -f "$ckpt.ok"
  "$PY" - "$CACHE/sd15-rand-f16.safetensors" "$ckpt.tmp" <<'PYEOF'
import json, struct, sys
import numpy as np, torch
src, dst = sys.argv[1:3]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
data = np.memmap(src, dtype=np.uint8, mode="r", offset=8 + n)
np_dtypes = {"F16": np.float16, "F32": np.float32}
sd = {}
for name, v in header.items():
    if name == "__metadata__":
        continue
    b, e = v["data_offsets"]
    arr = np.frombuffer(data[b:e], dtype=np_dtypes[v["dtype"]]).reshape(v["shape"])
    sd[name] = torch.from_numpy(arr.copy())
torch.save({"state_dict": sd, "global_step": 0}, dst)
PYEOF
  mv "$ckpt.tmp" "$ckpt"
  stamp "$ckpt"
fi

gguf="$CACHE/sd15-rand-f16.gguf"
if ! fresh "$gguf"; then
  echo "converting to $gguf"
  rm -f "$gguf.ok"
  "$SDR" convert "$CACHE/sd15-rand-f16.safetensors" "$gguf.tmp.gguf"
  mv "$gguf.tmp.gguf" "$gguf"
  stamp "$gguf"
fi
echo "test models ready in $CACHE"
