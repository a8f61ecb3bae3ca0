#include "models/clip/text_conditioner.h"

namespace sdr {

void ApplyTokenWeights(float* z, const float* w, int64_t tokens, int64_t hidden) {
  bool all_one = true;
  for (int64_t t = 0; t < tokens; ++t) all_one = all_one && w[t] == 1.0f;
  if (all_one) return;
  double before = 0, after = 0;
  for (int64_t i = 0; i < tokens * hidden; ++i) before += z[i];
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < hidden; ++j) z[t * hidden + j] *= w[t];
  }
  for (int64_t i = 0; i < tokens * hidden; ++i) after += z[i];
  if (after == 0.0) return;  // degenerate: nothing sensible to rescale to
  const float r = static_cast<float>(before / after);
  for (int64_t i = 0; i < tokens * hidden; ++i) z[i] *= r;
}

Result<Tensor> TextConditioner::Encode(std::string_view prompt, int clip_skip, const ChunkOptions& opts) const {
  SDR_ASSIGN_OR_RETURN(PromptChunks chunks, TokenizePrompt(*tok_, prompt, opts));
  constexpr int64_t L = PromptChunks::kChunkLength;
  const int64_t c = model_->hidden();
  if (model_->positions() < L) {
    return InvalidArgument("the text encoder has " + std::to_string(model_->positions()) + " positions, fewer than 77");
  }
  SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kF32, {1, chunks.num_chunks() * L, c}));
  for (int k = 0; k < chunks.num_chunks(); ++k) {
    float* z = out.mutable_data<float>() + k * L * c;
    SDR_RETURN_IF_ERROR(model_->Encode(chunks.ids.data() + k * L, L, clip_skip, z));
    ApplyTokenWeights(z, chunks.weights.data() + k * L, L, c);
  }
  return out;
}

}  // namespace sdr
