// Turns a weighted prompt into the token chunks the text encoder sees: pieces are tokenized
// separately, their tokens carry the piece's weight, and the sequence is cut into chunks of 75
// tokens, each wrapped as BOS + 75 + EOS and padded to 77 with the pad id (EOS for SD 1.x).
// BREAK closes the current chunk early. Special tokens and padding weigh 1.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/clip_tokenizer.h"

namespace sdr {

struct PromptChunks {
  static constexpr int kChunkLength = 77;  // BOS + 75 + EOS
  std::vector<int32_t> ids;    // [num_chunks * 77]
  std::vector<float> weights;  // [num_chunks * 77]
  int num_chunks() const { return static_cast<int>(ids.size() / kChunkLength); }
};

struct ChunkOptions {
  int32_t pad_id = ClipTokenizer::kEos;  // SD 1.x pads with <|endoftext|>; SD 2.x with 0
  int max_chunks = 64;                   // ~4,800 tokens; more is InvalidArgument
};

Result<PromptChunks> TokenizePrompt(const ClipTokenizer& tok, std::string_view prompt,
                                    const ChunkOptions& opts = {});

}  // namespace sdr
