// CLIP ViT-L/14 text encoder (the SD 1.x conditioner): token + position embeddings, pre-LN
// transformer layers with causal self-attention and quick-GELU MLP, final LayerNorm.
// Widths come from the weights (hidden from the token embedding, layers from the names; heads
// = hidden / 64 as in every CLIP text model), so tiny test models run the same code.
//
// Ownership: ClipTextModel holds f32 weights (borrowed from an f32 file or converted); it is
// immutable after Load and may be shared by threads, each Encode call using its own scratch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/tensor_index.h"

namespace sdr {

struct ClipLayerWeights {
  Tensor ln1_w, ln1_b;          // [C]
  Tensor q_w, k_w, v_w, o_w;    // [C, C]
  Tensor q_b, k_b, v_b, o_b;    // [C]
  Tensor ln2_w, ln2_b;          // [C]
  Tensor fc1_w;                 // [4C, C]
  Tensor fc1_b;                 // [4C]
  Tensor fc2_w;                 // [C, 4C]
  Tensor fc2_b;                 // [C]
};

struct ClipTextWeights {
  int64_t hidden = 0, heads = 0, vocab = 0, positions = 0;
  Tensor token_embedding;     // [vocab, C]
  Tensor position_embedding;  // [positions, C]
  std::vector<ClipLayerWeights> layers;
  Tensor final_ln_w, final_ln_b;  // [C]
};

class ClipTextModel {
 public:
  static constexpr float kLayerNormEps = 1e-5f;

  // Reads kLdmClipTextPrefix ("cond_stage_model.transformer.text_model.*") from `index`.
  static Result<std::unique_ptr<ClipTextModel>> Load(const TensorIndex& index);

  // ids: [n] token ids (n <= positions); out: [n, hidden]. clip_skip 1 = last layer; k runs the
  // first (layers - k + 1) layers, then the final LayerNorm. InvalidArgument for an id outside
  // the vocabulary, n > positions, or clip_skip outside [1, layers].
  Status Encode(const int32_t* ids, int64_t n, int clip_skip, float* out) const;

  int64_t hidden() const { return w_.hidden; }
  int64_t num_layers() const { return static_cast<int64_t>(w_.layers.size()); }
  int64_t positions() const { return w_.positions; }
  int64_t vocab() const { return w_.vocab; }

 private:
  ClipTextWeights w_;
};

}  // namespace sdr
