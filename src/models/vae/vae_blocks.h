// The blocks the SD VAE encoder and decoder share: the ResnetBlock (GroupNorm eps 1e-6 + SiLU +
// 3x3 conv, twice, with a 1x1 nin_shortcut when channels change) and the single-head attention
// block over the h*w positions (1x1 q, k, v, proj_out).
//
// Thread-safety: immutable after loading; Run* may run concurrently on different executors.
#pragma once

#include <string>
#include <vector>

#include "models/layers/layers.h"

namespace sdr {

inline constexpr float kVaeNormEps = 1e-6f;

struct VaeResBlock {
  GroupNormLayer norm1, norm2;
  Conv2dLayer conv1, conv2;
  bool has_shortcut = false;
  Conv2dLayer shortcut;  // nin_shortcut 1x1 when channels change
};

struct VaeAttention {
  GroupNormLayer norm;
  Conv2dLayer q, k, v, proj_out;  // 1x1
};

// "<p>.norm1" ... for `cin` input channels; NotFound naming nin_shortcut when channels change
// without one.
Result<VaeResBlock> LoadVaeRes(const WeightLoader& wl, const std::string& p, int64_t cin);
Result<VaeAttention> LoadVaeAttention(const WeightLoader& wl, const std::string& p, int64_t c);
// The ResBlocks "<level>.block.0", ".1", ... of one encoder/decoder level, in order, starting
// from *ch channels; *ch becomes the last block's output channels. NotFound when there is none.
Result<std::vector<VaeResBlock>> LoadVaeResBlocks(const WeightLoader& wl, const std::string& level, int64_t* ch);

// x: [B, cin, h, w] -> [B, cout, h, w]
Result<Act> RunVaeRes(Executor& ex, const VaeResBlock& r, Act x);  // x: hand over with std::move
// The blocks one after another (checking for cancellation before each).
Result<Act> RunVaeResBlocks(Executor& ex, const std::vector<VaeResBlock>& blocks, Act x);
// x: [B, c, h, w] -> [B, c, h, w] (x + attention)
Result<Act> RunVaeAttention(Executor& ex, const VaeAttention& a, const Act& x);

// Multiply-adds x 2 of one ResBlock on [cin, h, w].
double VaeResFlops(const VaeResBlock& r, int64_t h, int64_t w);
// Of the attention block on [c, h, w].
double VaeAttentionFlops(const VaeAttention& a, int64_t h, int64_t w);

}  // namespace sdr
