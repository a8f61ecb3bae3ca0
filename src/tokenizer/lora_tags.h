// A1111's extra-network prompt syntax for LoRAs: "<lora:NAME>" or "<lora:NAME:WEIGHT>" anywhere in
// the prompt. The tags are removed from the text the CLIP encoder sees (the rest of the prompt,
// spaces included, is kept as written) and returned in order; a name given twice keeps both
// entries (their weights add when merged, as A1111 applies each tag).
//
//   auto r = ExtractLoraTags("a cat <lora:pixel_art:0.8>, detailed");
//   // r->prompt == "a cat , detailed", r->loras == {{"pixel_art", 0.8f}}
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sdr {

struct LoraTag {
  std::string name;     // file stem under the LoRA folder (no extension)
  float weight = 1.0f;  // multiplier, default 1
};

struct LoraPrompt {
  std::string prompt;            // without the tags
  std::vector<LoraTag> loras;    // in prompt order
};

// InvalidArgument for a malformed tag ("<lora:>" without a name, a weight that is not a finite
// number, more than one weight), naming the tag. Other "<...>" text is left alone.
Result<LoraPrompt> ExtractLoraTags(std::string_view prompt);

}  // namespace sdr
