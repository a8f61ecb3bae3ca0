// TextConditioner: prompt text -> the cross-attention context the UNet sees. Parses A1111
// weighting, tokenizes into 77-token chunks, encodes each chunk with CLIP, scales each token's
// hidden state by its weight and rescales the chunk so its mean is unchanged, then concatenates
// the chunks along the token axis.
//
// Thread-safety: immutable; Encode may run concurrently (the model and tokenizer are shared).
#pragma once

#include <memory>
#include <string_view>

#include "models/clip/clip_text_model.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/prompt_chunks.h"

namespace sdr {

class TextConditioner {
 public:
  // Both must outlive the conditioner.
  TextConditioner(const ClipTextModel* model, const ClipTokenizer* tokenizer) : model_(model), tok_(tokenizer) {}

  Result<PromptChunks> Tokenize(std::string_view prompt, const ChunkOptions& opts = {}) const;

  // The chunks, encoded as one batch on the caller's executor -> [1, 77 * chunks, hidden] dense
  // f32 on the host, weighted.
  Result<Tensor> Encode(Executor& ex, const PromptChunks& chunks, int clip_skip) const;

  // Tokenize + Encode, one-off (tests, tools), on a stream and arena of its own.
  Result<Tensor> Encode(std::string_view prompt, int clip_skip = 1, const ChunkOptions& opts = {}) const;

 private:
  const ClipTextModel* model_;
  const ClipTokenizer* tok_;
};

// The A1111 weighting step on one chunk: z[t, :] *= w[t], then z *= mean_before / mean_after.
// z: [tokens, hidden]; w: [tokens]. Leaves z untouched when every weight is 1.
void ApplyTokenWeights(float* z, const float* w, int64_t tokens, int64_t hidden);

}  // namespace sdr
