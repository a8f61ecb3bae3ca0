#!/usr/bin/env bash
# A1111's request shape with curl, as scripts written for the A1111 web UI send it:
# POST /sdapi/v1/txt2img, then the answer's images decoded and read back through png-info.
# Usage: a1111_curl_test.sh URL (run by run_against_server.sh)
set -euo pipefail
url=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

curl -sS --fail-with-body -X POST "$url/sdapi/v1/txt2img" -H 'Content-Type: application/json' -d '{
  "prompt": "a watercolor fox", "negative_prompt": "lowres", "steps": 3, "cfg_scale": 6.5,
  "width": 64, "height": 64, "sampler_name": "Euler a", "scheduler": "Karras", "seed": 1234,
  "batch_size": 1, "n_iter": 2, "restore_faces": false, "tiling": false,
  "override_settings": {"CLIP_stop_at_last_layers": 2, "sd_model_checkpoint": "ignored"},
  "override_settings_restore_afterwards": true, "send_images": true, "save_images": false
}' >"$tmp/answer.json"

python3 - "$tmp/answer.json" "$url" <<'PY'
import base64, json, sys, urllib.request
answer = json.load(open(sys.argv[1]))
url = sys.argv[2]
assert len(answer["images"]) == 2, answer.keys()
for b64 in answer["images"]:
    png = base64.b64decode(b64)
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert int.from_bytes(png[16:20], "big") == 64 and int.from_bytes(png[20:24], "big") == 64
info = json.loads(answer["info"])  # A1111: a JSON string
assert info["all_seeds"] == [1234, 1235], info["all_seeds"]
assert "Sampler: Euler a" in info["infotexts"][0] and "Schedule type: Karras" in info["infotexts"][0], info["infotexts"][0]
assert answer["parameters"]["prompt"] == "a watercolor fox"
req = urllib.request.Request(url + "/sdapi/v1/png-info", data=json.dumps({"image": answer["images"][1]}).encode(),
                             headers={"Content-Type": "application/json"})
back = json.load(urllib.request.urlopen(req))
assert back["info"] == info["infotexts"][1], (back["info"], info["infotexts"][1])
print("a1111 shape ok:", info["infotexts"][0].splitlines()[-1])
PY

# The progress and model endpoints A1111 clients poll.
curl -sS --fail-with-body "$url/sdapi/v1/progress" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "progress" in d and "state" in d, d'
curl -sS --fail-with-body "$url/sdapi/v1/sd-models" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["model_name"], d'
# A bad request: A1111's error shape, HTTP 400.
code=$(curl -sS -o "$tmp/err.json" -w '%{http_code}' -X POST "$url/sdapi/v1/txt2img" -H 'Content-Type: application/json' -d '{"prompt": "x", "steps": 0}')
[ "$code" = 400 ] || { echo "steps 0: HTTP $code" >&2; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["error"] == "invalid_params" and "steps" in d["detail"], d' "$tmp/err.json"
