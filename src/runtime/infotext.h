// A1111 "infotext": the generation parameters text stored in a PNG's "parameters" chunk and
// returned by /sdapi/v1/txt2img, in the exact layout A1111 writes (and its PNG Info tab parses):
//
//   a photo of a cat
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: abcd012345, Model: sd15
//
// The "Negative prompt:" line only when there is one. Values containing ',', ':' or a newline are
// JSON-quoted (as A1111's infotext_utils.quote does); numbers print as Python's str() would.
//
// Thread-safety: the functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "runtime/generate_params.h"

namespace sdr {

struct GenerationInfo {
  std::string prompt;
  std::string negative_prompt;  // omitted from the text when empty
  int steps = 20;
  std::string sampler = "Euler a";     // A1111 display name ("Euler a", "DPM++ 2M", ...)
  std::string schedule = "Automatic";  // "Schedule type" ("Karras", "Automatic", ...); omitted when empty
  double cfg_scale = 7.0;              // printed like Python: 7.0 -> "7", 7.5 -> "7.5"
  uint64_t seed = 0;
  int width = 512;   // pixels
  int height = 512;  // pixels
  std::string model_hash;  // short hash (ModelHash); omitted when empty
  std::string model_name;  // e.g. the file name without extension; omitted when empty
  int clip_skip = 1;       // written only when > 1
  RngKind rng = RngKind::kCuda;  // "RNG: CPU" written only for kCpu (A1111's GPU default is implicit)
  // Further "key: value" pairs appended in order (A1111 puts e.g. "Version" last).
  std::vector<std::pair<std::string, std::string>> extra;
};

std::string FormatInfotext(const GenerationInfo& info);

// The infotext of one image of a generation: the request's settings, the image's own seed and
// size, and the prompts as the tokenizer read them (invalid UTF-8 replaced by U+FFFD, so the text
// is always valid UTF-8 and every PNG writer takes it). The CLI, the C API and the server all
// build it here; model_name / model_hash are the caller's (they need the file).
GenerationInfo MakeGenerationInfo(const GenerateParams& params, uint64_t seed, int width, int height);

// A1111's "Lora hashes" value for the <lora:...> tags of params.prompt: "name: <first 12 hex of the
// file's SHA-256>, ..." in prompt order (each name once); "" without tags. Reads each file whole.
Result<std::string> LoraHashes(const GenerateParams& params);

// A value as A1111 writes it: unchanged, or JSON-quoted (UTF-8 kept) when it contains ',', ':'
// or '\n'.
std::string QuoteInfotextValue(const std::string& value);

// A number as Python's str(float) would print it, with a trailing ".0" dropped (7.0 -> "7").
std::string FormatInfotextNumber(double value);

// An infotext read back (A1111's parse_generation_parameters): the prompt lines, the lines after
// "Negative prompt:", and the "key: value" pairs of the last line (when it holds at least three;
// otherwise it belongs to the prompt), JSON-quoted values unquoted, in order. Never fails: text
// that is not an infotext comes back as the prompt.
struct ParsedInfotext {
  std::string prompt;
  std::string negative_prompt;
  std::vector<std::pair<std::string, std::string>> params;  // e.g. ("Steps", "20"), ("Size", "512x512")
};
ParsedInfotext ParseInfotext(const std::string& text);

// A1111's short model hash ("AutoV2"): the first 10 hex digits of the SHA-256 of the whole file.
// NotFound / IoError naming the path.
Result<std::string> ModelHash(const std::string& path);

}  // namespace sdr
