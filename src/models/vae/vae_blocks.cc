#include "models/vae/vae_blocks.h"

#include <cmath>

#include "models/weights.h"

namespace sdr {

constexpr float kEps = kVaeNormEps;

Result<VaeResBlock> LoadVaeRes(const WeightLoader& wl, const std::string& p, int64_t cin) {
  VaeResBlock r;
  SDR_ASSIGN_OR_RETURN(r.norm1, GroupNormLayer::Load(wl, p + ".norm1", cin, kEps));
  SDR_ASSIGN_OR_RETURN(r.conv1, Conv2dLayer::Load(wl, p + ".conv1", cin, 3));
  const int64_t cout = r.conv1.cout;
  SDR_ASSIGN_OR_RETURN(r.norm2, GroupNormLayer::Load(wl, p + ".norm2", cout, kEps));
  SDR_ASSIGN_OR_RETURN(r.conv2, Conv2dLayer::Load(wl, p + ".conv2", cout, 3, 1, cout));
  r.has_shortcut = HasTensorsUnder(wl.index(), p + ".nin_shortcut.");
  if (r.has_shortcut) {
    SDR_ASSIGN_OR_RETURN(r.shortcut, Conv2dLayer::Load(wl, p + ".nin_shortcut", cin, 1, 1, cout));
  } else if (cin != cout) {
    return NotFound("tensor '" + p + ".nin_shortcut.weight' is missing from the model (expected shape " +
                    ShapeToString({cout, cin, 1, 1}) + ": the block changes " + std::to_string(cin) + " -> " +
                    std::to_string(cout) + " channels)");
  }
  return r;
}

Result<std::vector<VaeResBlock>> LoadVaeResBlocks(const WeightLoader& wl, const std::string& level, int64_t* ch) {
  SDR_ASSIGN_OR_RETURN(const int count, CountNumbered(wl.index(), level + ".block."));
  if (count == 0) return NotFound("no '" + level + ".block.0' layers");
  std::vector<VaeResBlock> blocks;
  for (int j = 0; j < count; ++j) {
    SDR_ASSIGN_OR_RETURN(VaeResBlock r, LoadVaeRes(wl, level + ".block." + std::to_string(j), *ch));
    *ch = r.conv1.cout;
    blocks.push_back(std::move(r));
  }
  return blocks;
}

Result<VaeAttention> LoadVaeAttention(const WeightLoader& wl, const std::string& p, int64_t c) {
  VaeAttention a;
  SDR_ASSIGN_OR_RETURN(a.norm, GroupNormLayer::Load(wl, p + ".norm", c, kEps));
  SDR_ASSIGN_OR_RETURN(a.q, Conv2dLayer::Load(wl, p + ".q", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.k, Conv2dLayer::Load(wl, p + ".k", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.v, Conv2dLayer::Load(wl, p + ".v", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.proj_out, Conv2dLayer::Load(wl, p + ".proj_out", c, 1, 1, c));
  return a;
}

// Feature maps live at once, counting a map of x's size as 1 (SD's last decoder level: 256 -> 128
// channels at 512 x 512, 268 MB for x): with a shortcut, x + s (1/2) + h1 (1/2) = 2, the shortcut
// taken first so that x is normalised in place; without, x + GN(x) + h1 = 3 maps of one size.
Result<Act> RunVaeRes(Executor& ex, const VaeResBlock& r, Act x) {
  if (!r.has_shortcut) {
    SDR_ASSIGN_OR_RETURN(Act h, r.norm1.Forward(ex, x, /*silu=*/true));  // x stays: the residual
    SDR_ASSIGN_OR_RETURN(h, r.conv1.Forward(ex, h));
    SDR_ASSIGN_OR_RETURN(h, r.norm2.ForwardInPlace(ex, std::move(h), /*silu=*/true));
    return r.conv2.Forward(ex, h, nullptr, /*residual=*/&x);
  }
  SDR_ASSIGN_OR_RETURN(Act s, r.shortcut.Forward(ex, x));
  SDR_ASSIGN_OR_RETURN(Act h, r.norm1.ForwardInPlace(ex, std::move(x), /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, r.conv1.Forward(ex, h));
  SDR_ASSIGN_OR_RETURN(h, r.norm2.ForwardInPlace(ex, std::move(h), /*silu=*/true));
  return r.conv2.Forward(ex, h, nullptr, /*residual=*/&s);
}

Result<Act> RunVaeResBlocks(Executor& ex, const std::vector<VaeResBlock>& blocks, Act x) {
  for (const VaeResBlock& r : blocks) {
    SDR_RETURN_IF_ERROR(ex.Check());
    SDR_ASSIGN_OR_RETURN(x, RunVaeRes(ex, r, std::move(x)));
  }
  return x;
}

// Single-head attention over the h*w positions.
Result<Act> RunVaeAttention(Executor& ex, const VaeAttention& a, const Act& x) {
  const int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Act out;  // [B, hw, c]
  {
    SDR_ASSIGN_OR_RETURN(Act n, a.norm.Forward(ex, x, /*silu=*/false));
    SDR_ASSIGN_OR_RETURN(Act q, a.q.Forward(ex, n));  // [B, c, h, w]
    SDR_ASSIGN_OR_RETURN(Act k, a.k.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(Act v, a.v.Forward(ex, n));
    n = Act();
    SDR_ASSIGN_OR_RETURN(q, ex.ToTokens(q));  // [B, hw, c]
    SDR_ASSIGN_OR_RETURN(k, ex.ToTokens(k));
    SDR_ASSIGN_OR_RETURN(v, ex.ToTokens(v));
    SDR_ASSIGN_OR_RETURN(out, ex.Attention(q, k, v, 1, 1.0f / std::sqrt(static_cast<float>(c)), /*causal=*/false));
  }
  SDR_ASSIGN_OR_RETURN(Act maps, ex.FromTokens(out, h, w));
  out = Act();
  return a.proj_out.Forward(ex, maps, nullptr, /*residual=*/&x);
}

double VaeResFlops(const VaeResBlock& r, int64_t h, int64_t w) {
  return r.conv1.Flops(h, w) + r.conv2.Flops(h, w) + (r.has_shortcut ? r.shortcut.Flops(h, w) : 0);
}

double VaeAttentionFlops(const VaeAttention& a, int64_t h, int64_t w) {
  const double hw = static_cast<double>(h * w), c = static_cast<double>(a.q.cin);
  return 4 * 2 * c * c * hw + 2 * 2 * hw * hw * c;  // q k v proj_out, QK^T and AV
}

}  // namespace sdr
