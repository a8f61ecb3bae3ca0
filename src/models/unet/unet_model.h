// The SD 1.x UNet (LDM "openaimodel" layout): sinusoidal time embedding -> MLP; input blocks of
// ResBlocks and SpatialTransformers with stride-2 downsampling; a middle block; output blocks
// that concatenate the skip connections and upsample (nearest x2 + conv). Which layers a block
// holds is read from the tensor names, widths from the shapes, so test models of any width run.
// Original math: ResBlock GroupNorm eps 1e-5, transformer GroupNorm eps 1e-6, LayerNorm eps 1e-5,
// exact-GELU GEGLU, 8 heads (SD 1.x).
//
// Ownership: immutable weights prepared for one backend (shared by every context); Forward runs
// on the caller's Executor (its stream and arena), so one model serves several contexts at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/run_control.h"
#include "models/layers/layers.h"

namespace sdr {

struct ResBlockWeights {
  GroupNormLayer in_norm;  // eps 1e-5
  Conv2dLayer in_conv;     // 3x3 cin -> cout
  LinearLayer emb;         // [cout, temb]
  GroupNormLayer out_norm;
  Conv2dLayer out_conv;    // 3x3 cout -> cout
  bool has_skip = false;
  Conv2dLayer skip;        // 1x1 cin -> cout when channels change
};

struct TransformerWeights {
  int64_t c = 0, heads = 8;
  GroupNormLayer norm;  // eps 1e-6
  Conv2dLayer proj_in, proj_out;  // 1x1 (a [c, c] Linear in SD 2.x is taken as 1x1 too)
  LayerNormLayer norm1, norm2, norm3;
  LinearLayer q1, k1, v1, o1;  // self-attention [c, c]
  LinearLayer q2, k2, v2, o2;  // cross-attention: k2, v2 [c, context_dim]
  LinearLayer ff_proj;         // GEGLU [8c, c]
  LinearLayer ff_out;          // [c, 4c]
};

// One sub-layer of a block, in order.
struct UnetLayer {
  enum class Kind { kRes, kTransformer, kDownsample, kUpsample, kConv } kind;
  size_t index = 0;  // into res / transformers / convs
};

struct UnetBlock {
  std::vector<UnetLayer> layers;
};

struct UnetLoadOptions {
  int64_t heads = 8;            // attention heads (SD 1.x: 8 at every level)
  int64_t context_dim = 0;      // the text encoder's width; 0 = read from the first attn2.to_k
  int64_t latent_channels = 0;  // the VAE's latent channels; 0 = read from input_blocks.0.0
  // Inputs concatenated after the latent (input_blocks.0.0 reads latent + extra channels; out.2
  // still gives the latent): 5 for inpainting UNets (mask, masked-image latent), else 0.
  int64_t extra_in_channels = 0;
};

// How the images of a Forward batch relate.
enum class UnetBatch {
  kIndependent,
  // x and t are the same for every image, only ctx differs (the CFG pair): every layer before the
  // first cross-attention runs once, on the first image, and its result is repeated. The same
  // numbers as kIndependent, with that prefix's work (~3 % of an SD 1.5 pair) done once.
  kSharedInput,
};

class UnetModel {
 public:
  // Loads and checks every layer for the channels it will receive (InvalidArgument / NotFound /
  // CorruptData naming the tensor, the expected and the actual shape).
  // Weights are prepared for `backend`, which must outlive the model.
  static Result<std::unique_ptr<UnetModel>> Load(const TensorIndex& index, Backend& backend,
                                                 const UnetLoadOptions& opts = {});

  // x: [B, C, h, w] (already scaled by c_in); t: B fractional timesteps; ctx: [B, L, context_dim].
  // Returns eps: [B, C, h, w]. The executor's run control is checked before every layer, so a
  // cancel or timeout stops the evaluation within one layer (Cancelled / DeadlineExceeded).
  Result<Act> Forward(Executor& ex, const Act& x, const std::vector<float>& t, const Act& ctx,
                      UnetBatch batch = UnetBatch::kIndependent) const;
  // The same with the timesteps on the device (t: [B] f32, Executor::Upload(..., DType::kF32)):
  // the evaluation then reads nothing from the host, so Executor::Captured can replay it.
  Result<Act> Forward(Executor& ex, const Act& x, const Act& t, const Act& ctx,
                      UnetBatch batch = UnetBatch::kIndependent) const;

  // One-off host-level evaluation (tests, tools): x [1, C, h, w], ctx [1, L, context_dim] dense
  // f32 -> eps [1, C, h, w], on a stream and arena of its own.
  Result<Tensor> Forward(const Tensor& x, float t, const Tensor& ctx, const RunControl* control = nullptr) const;

  int64_t model_channels() const { return model_channels_; }
  int64_t context_dim() const { return context_dim_; }
  int64_t in_channels() const { return in_channels_; }          // latent + extra inputs (inpainting: 9)
  int64_t latent_channels() const { return latent_channels_; }  // what it predicts (SD: 4)
  int64_t out_channels() const { return out_conv_.cout; }

  // Floating-point operations of one Forward on a [1, C, lh, lw] latent with `context_tokens`
  // tokens of text context (multiply-adds count 2; GEMMs, convolutions and attention only).
  double EvalFlops(int64_t lh, int64_t lw, int64_t context_tokens) const;

 private:
  struct Flow;
  Status LoadAll(const WeightLoader& wl, const UnetLoadOptions& opts);
  Result<UnetBlock> LoadBlock(const WeightLoader& wl, const std::string& bp, bool first_block, Flow* f);
  Status LoadLayer(const WeightLoader& wl, const std::string& q, UnetLayer::Kind kind, bool first_layer, Flow* f,
                   UnetBlock* block);

  Status CheckInputs(const Act& x, int64_t timesteps, const Act& ctx) const;
  // Forward from the timestep sinusoid [B, model_channels] on.
  Result<Act> ForwardFrom(Executor& ex, const Act& x, Act sinus, const Act& ctx, UnetBatch batch) const;
  // up_to: the skip the next block concatenates (its size is the upsampling target), or null.
  Result<Act> RunBlock(Executor& ex, const UnetBlock& block, Act h, const Act& emb, const Act& ctx,
                       const Act* up_to) const;
  // x may hold fewer images than emb and ctx (UnetBatch::kSharedInput): a ResBlock then takes its
  // first images' embeddings, a transformer repeats x's one image after its self-attention.
  Result<Act> RunRes(Executor& ex, const ResBlockWeights& r, const Act& x, const Act& emb) const;
  Result<Act> RunTransformer(Executor& ex, const TransformerWeights& tw, const Act& x, const Act& ctx) const;

  Backend* backend_ = nullptr;

  int64_t model_channels_ = 0, temb_dim_ = 0, context_dim_ = 0, in_channels_ = 0, heads_ = 8;
  int64_t latent_channels_ = 0;
  LinearLayer time1_, time2_;
  std::vector<ResBlockWeights> res_;
  std::vector<TransformerWeights> transformers_;
  std::vector<Conv2dLayer> convs_;  // input conv, down/upsample convs
  std::vector<UnetBlock> input_blocks_, output_blocks_;
  UnetBlock middle_;
  GroupNormLayer out_norm_;
  Conv2dLayer out_conv_;
};


}  // namespace sdr
