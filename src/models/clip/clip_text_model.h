// CLIP ViT-L/14 text encoder (the SD 1.x conditioner): token + position embeddings, pre-LN
// transformer layers with causal self-attention and quick-GELU MLP, final LayerNorm.
// Widths come from the weights (hidden from the token embedding, layers from the names; heads
// = hidden / 64 as in every CLIP text model), so tiny test models run the same code.
//
// Ownership: weights prepared once for one backend; immutable after Load and shared by threads,
// each Encode running on its caller's Executor.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers/layers.h"

namespace sdr {

struct ClipLayerWeights {
  LayerNormLayer ln1, ln2;          // [C]
  LinearLayer q, k, v, o;           // [C, C] with bias
  LinearLayer fc1;                  // [4C, C]
  LinearLayer fc2;                  // [C, 4C]
};

struct ClipTextWeights {
  int64_t hidden = 0, heads = 0, vocab = 0, positions = 0;
  Weight token_embedding;     // [vocab, C]
  Weight position_embedding;  // [positions, C]
  std::vector<ClipLayerWeights> layers;
  LayerNormLayer final_ln;    // [C]
};

class ClipTextModel {
 public:
  // Reads kLdmClipTextPrefix ("cond_stage_model.transformer.text_model.*") from `index`; weights
  // are prepared for `backend`, which must outlive the model.
  static Result<std::unique_ptr<ClipTextModel>> Load(const TensorIndex& index, Backend& backend);

  // ids: [batch * n] token ids, n <= positions -> [batch, n, hidden]. clip_skip 1 = last layer;
  // k runs the first (layers - k + 1) layers, then the final LayerNorm. InvalidArgument for an id
  // outside the vocabulary, n > positions, or clip_skip outside [1, layers].
  Result<Act> Encode(Executor& ex, const std::vector<int32_t>& ids, int64_t batch, int clip_skip) const;

  // One-off host-level encode (tests, tools): ids: [n] -> out: [n, hidden] floats.
  Status Encode(const int32_t* ids, int64_t n, int clip_skip, float* out) const;

  int64_t hidden() const { return w_.hidden; }
  int64_t num_layers() const { return static_cast<int64_t>(w_.layers.size()); }
  int64_t positions() const { return w_.positions; }
  int64_t vocab() const { return w_.vocab; }
  Backend& backend() const { return *backend_; }

 private:
  Status Validate(const std::vector<int32_t>& ids, int64_t batch, int clip_skip) const;

  ClipTextWeights w_;
  Backend* backend_ = nullptr;
};

}  // namespace sdr
