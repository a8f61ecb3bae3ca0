// Fuzz entries: one function per parser of untrusted input. Each takes the raw fuzz input,
// runs it through the real production entry point (in memory: MappedFile::FromBytes, no temp
// files) and returns that entry's Status. None may crash, leak, hit UB, hang or allocate
// without bound on any input: that is the property the fuzzers check. Beyond "no crash", each
// entry checks what a successful parse promises (tensor bytes inside the input, token ids in the
// vocabulary, a loaded config that re-validates, ...) with SDR_CHECK, which aborts: a broken
// promise is a bug the fuzzer reports like a crash.
//
// The same functions serve three callers: the libFuzzer programs (libfuzzer_main.cc, built with
// -DSDR_FUZZ=ON), the unit test that replays tests/fuzz/regressions/<target>/* in every build,
// and the seed check (fuzz_seeds.h).
//
// Thread-safety: the entries may be called concurrently (the tokenizer entry builds its
// tokenizer once, thread-safely, on first use).
#pragma once

#include <span>
#include <string_view>

#include "core/status.h"

namespace sdr::fuzz {

// .safetensors: 8-byte header length, JSON header, offsets (ReadSafetensors).
Status FuzzSafetensors(std::string_view input);
// GGUF v2/v3 (ReadGguf); tensors small enough are also converted to f32 (dequantization).
Status FuzzGguf(std::string_view input);
// A ZIP archive (ZipReader::Open, then Read of every entry: stored spans, inflate, CRC).
Status FuzzZip(std::string_view input);
// A whole torch.save .ckpt: zip + restricted unpickler + tensor views (ReadCkpt).
Status FuzzCkpt(std::string_view input);
// A pickle through the restricted unpickler (Unpickle) with the globals a checkpoint may use.
Status FuzzPickle(std::string_view input);
// A prompt: A1111 attention parser, CLIP BPE and 77-token chunking. Input byte 0 picks the
// chunk options (pad id, max chunks), the rest is the prompt.
Status FuzzTokenizer(std::string_view input);
// The SD_* environment: NUL-separated "NAME=VALUE" entries (later ones win) seen through an
// EnvLookup by LoadConfigFromEnv.
Status FuzzConfig(std::string_view input);
// An HTTP request body through `sdr serve`'s parsers. Input byte 0 % 4 picks the endpoint: 0
// POST /v1/images/generations, 1 POST /v1/jobs, 2 POST /sdapi/v1/txt2img, 3 POST
// /sdapi/v1/png-info; the rest is the body. A parsed request must lie inside the server's limits;
// a refused one must be a 4xx with a message.
Status FuzzServerRequest(std::string_view input);

struct FuzzTarget {
  std::string_view name;  // "safetensors": names the fuzzer (fuzz_<name>) and its folders
  Status (*run)(std::string_view input);
};
// Every target, in a fixed order.
std::span<const FuzzTarget> FuzzTargets();
// The target called `name`; nullptr when unknown.
const FuzzTarget* FindFuzzTarget(std::string_view name);

}  // namespace sdr::fuzz
