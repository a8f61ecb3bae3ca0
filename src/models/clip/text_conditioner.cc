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

namespace {

// z: [k, 77, c] encoded chunks -> [1, 77k, c] with each chunk's token weights applied.
Tensor WeightChunks(Tensor z, const PromptChunks& chunks) {
  constexpr int64_t L = PromptChunks::kChunkLength;
  const int64_t k = z.dim(0), c = z.dim(2);
  for (int64_t i = 0; i < k; ++i) {
    ApplyTokenWeights(z.mutable_data<float>() + i * L * c, chunks.weights.data() + i * L, L, c);
  }
  return z.Reshaped({1, k * L, c});
}

}  // namespace

Result<PromptChunks> TextConditioner::Tokenize(std::string_view prompt, const ChunkOptions& opts) const {
  return TokenizePrompt(*tok_, prompt, opts);
}

Result<Tensor> TextConditioner::Encode(Executor& ex, const PromptChunks& chunks, int clip_skip) const {
  SDR_ASSIGN_OR_RETURN(Act z, model_->Encode(ex, chunks.ids, chunks.num_chunks(), clip_skip));  // [k, 77, c]
  SDR_ASSIGN_OR_RETURN(Tensor out, ex.Download(z));
  return WeightChunks(std::move(out), chunks);
}

Result<Tensor> TextConditioner::Encode(std::string_view prompt, int clip_skip, const ChunkOptions& opts) const {
  SDR_ASSIGN_OR_RETURN(PromptChunks chunks, Tokenize(prompt, opts));
  SDR_ASSIGN_OR_RETURN(Tensor z, RunPlanned(model_->backend(), nullptr, [&](Executor& ex) {
                         return model_->Encode(ex, chunks.ids, chunks.num_chunks(), clip_skip);
                       }));
  return WeightChunks(std::move(z), chunks);
}

}  // namespace sdr
