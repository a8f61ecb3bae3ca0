// The CLIP ViT-L/14 BPE vocabulary compiled into the library (deflated at build time from
// SDR_CLIP_MERGES_FILE; see cmake/Embed.cmake), so that single-file checkpoints, which never carry
// a tokenizer, work with no file beside them. SD 1.x uses exactly this vocabulary.
//
// Thread-safety: EmbeddedClipTokenizer builds the tokenizer once per process (about 0.1 s) and
// returns the same immutable instance to every caller.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/clip_tokenizer.h"

namespace sdr {

// The embedded merges text, inflated. CorruptData if the embedded bytes do not inflate (a build bug).
Result<std::string> EmbeddedClipMerges();

// The tokenizer built from EmbeddedClipMerges().
Result<std::shared_ptr<const ClipTokenizer>> EmbeddedClipTokenizer();

}  // namespace sdr
