#include "models/sd1_layout.h"

#include "formats/ldm_names.h"

namespace sdr {
namespace {

class LayoutBuilder {
 public:
  void Linear(const std::string& name, int64_t out, int64_t in, bool bias = true) {
    Add(name + ".weight", {out, in}, InitKind::kWeight);
    if (bias) Add(name + ".bias", {out}, InitKind::kBias);
  }
  void Conv(const std::string& name, int64_t out, int64_t in, int64_t k) {
    Add(name + ".weight", {out, in, k, k}, InitKind::kWeight);
    Add(name + ".bias", {out}, InitKind::kBias);
  }
  void Norm(const std::string& name, int64_t c) {
    Add(name + ".weight", {c}, InitKind::kNormScale);
    Add(name + ".bias", {c}, InitKind::kNormShift);
  }
  void Add(std::string name, Shape shape, InitKind init) {
    out_.push_back({std::move(name), std::move(shape), init});
  }
  std::vector<LayoutTensor> Take() { return std::move(out_); }

 private:
  std::vector<LayoutTensor> out_;
};

void UnetResBlock(LayoutBuilder& b, const std::string& n, int64_t cin, int64_t cout, int64_t temb) {
  b.Norm(n + ".in_layers.0", cin);
  b.Conv(n + ".in_layers.2", cout, cin, 3);
  b.Linear(n + ".emb_layers.1", cout, temb);
  b.Norm(n + ".out_layers.0", cout);
  b.Conv(n + ".out_layers.3", cout, cout, 3);
  if (cin != cout) b.Conv(n + ".skip_connection", cout, cin, 1);
}

void UnetTransformer(LayoutBuilder& b, const std::string& n, int64_t c, int64_t ctx) {
  b.Norm(n + ".norm", c);
  b.Conv(n + ".proj_in", c, c, 1);
  const std::string t = n + ".transformer_blocks.0";
  b.Linear(t + ".attn1.to_q", c, c, false);
  b.Linear(t + ".attn1.to_k", c, c, false);
  b.Linear(t + ".attn1.to_v", c, c, false);
  b.Linear(t + ".attn1.to_out.0", c, c);
  b.Linear(t + ".ff.net.0.proj", c * 8, c);
  b.Linear(t + ".ff.net.2", c, c * 4);
  b.Linear(t + ".attn2.to_q", c, c, false);
  b.Linear(t + ".attn2.to_k", c, ctx, false);
  b.Linear(t + ".attn2.to_v", c, ctx, false);
  b.Linear(t + ".attn2.to_out.0", c, c);
  b.Norm(t + ".norm1", c);
  b.Norm(t + ".norm2", c);
  b.Norm(t + ".norm3", c);
  b.Conv(n + ".proj_out", c, c, 1);
}

void Unet(LayoutBuilder& b, const Sd1LayoutOptions& o) {
  const std::string p = kLdmUnetPrefix;
  const int64_t mc = o.unet_model_channels, temb = mc * 4, ctx = o.unet_context_dim;
  const int mult[4] = {1, 2, 4, 4};
  b.Linear(p + "time_embed.0", temb, mc);
  b.Linear(p + "time_embed.2", temb, temb);
  b.Conv(p + "input_blocks.0.0", mc, o.unet_in_channels, 3);
  std::vector<int64_t> skips = {mc};
  int64_t ch = mc;
  int idx = 1;
  for (int level = 0; level < 4; ++level) {
    for (int i = 0; i < 2; ++i, ++idx) {
      const std::string n = p + "input_blocks." + std::to_string(idx);
      UnetResBlock(b, n + ".0", ch, mc * mult[level], temb);
      ch = mc * mult[level];
      if (level < 3) UnetTransformer(b, n + ".1", ch, ctx);
      skips.push_back(ch);
    }
    if (level < 3) {
      b.Conv(p + "input_blocks." + std::to_string(idx) + ".0.op", ch, ch, 3);
      skips.push_back(ch);
      ++idx;
    }
  }
  UnetResBlock(b, p + "middle_block.0", ch, ch, temb);
  UnetTransformer(b, p + "middle_block.1", ch, ctx);
  UnetResBlock(b, p + "middle_block.2", ch, ch, temb);
  idx = 0;
  for (int level = 3; level >= 0; --level) {
    for (int i = 0; i < 3; ++i, ++idx) {
      const std::string n = p + "output_blocks." + std::to_string(idx);
      const int64_t skip = skips.back();
      skips.pop_back();
      UnetResBlock(b, n + ".0", ch + skip, mc * mult[level], temb);
      ch = mc * mult[level];
      int sub = 1;
      if (level < 3) UnetTransformer(b, n + "." + std::to_string(sub++), ch, ctx);
      if (level > 0 && i == 2) b.Conv(n + "." + std::to_string(sub) + ".conv", ch, ch, 3);
    }
  }
  b.Norm(p + "out.0", ch);
  b.Conv(p + "out.2", 4, ch, 3);
}

void Clip(LayoutBuilder& b, const Sd1LayoutOptions& o) {
  const std::string p = kLdmClipTextPrefix;
  const int64_t h = o.text_hidden;
  b.Add(p + "embeddings.token_embedding.weight", {o.text_vocab, h}, InitKind::kEmbedding);
  b.Add(p + "embeddings.position_embedding.weight", {o.text_positions, h}, InitKind::kPosition);
  for (int i = 0; i < o.text_layers; ++i) {
    const std::string l = p + "encoder.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      b.Linear(l + "self_attn." + proj, h, h);
    }
    b.Norm(l + "layer_norm1", h);
    b.Linear(l + "mlp.fc1", h * 4, h);
    b.Linear(l + "mlp.fc2", h, h * 4);
    b.Norm(l + "layer_norm2", h);
  }
  b.Add(p + "final_layer_norm.weight", {h}, InitKind::kNormScale);
  b.Add(p + "final_layer_norm.bias", {h}, InitKind::kFinalNormShift);
}

void VaeResBlock(LayoutBuilder& b, const std::string& n, int64_t cin, int64_t cout) {
  b.Norm(n + ".norm1", cin);
  b.Conv(n + ".conv1", cout, cin, 3);
  b.Norm(n + ".norm2", cout);
  b.Conv(n + ".conv2", cout, cout, 3);
  if (cin != cout) b.Conv(n + ".nin_shortcut", cout, cin, 1);
}

void VaeAttention(LayoutBuilder& b, const std::string& n, int64_t c) {
  b.Norm(n + ".norm", c);
  for (const char* x : {"q", "k", "v", "proj_out"}) b.Conv(n + "." + x, c, c, 1);
}

void Vae(LayoutBuilder& b, const Sd1LayoutOptions& o) {
  const std::string p = kLdmVaePrefix;
  const int64_t ch = o.vae_channels, zc = 4;
  const int mult[4] = {1, 2, 4, 4};
  if (o.include_vae_encoder) {
    const std::string e = p + "encoder.";
    b.Conv(e + "conv_in", ch, 3, 3);
    int64_t cin = ch;
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 2; ++j) {
        VaeResBlock(b, e + "down." + std::to_string(i) + ".block." + std::to_string(j), cin, ch * mult[i]);
        cin = ch * mult[i];
      }
      if (i != 3) b.Conv(e + "down." + std::to_string(i) + ".downsample.conv", cin, cin, 3);
    }
    VaeResBlock(b, e + "mid.block_1", cin, cin);
    VaeAttention(b, e + "mid.attn_1", cin);
    VaeResBlock(b, e + "mid.block_2", cin, cin);
    b.Norm(e + "norm_out", cin);
    b.Conv(e + "conv_out", 2 * zc, cin, 3);
    b.Conv(p + "quant_conv", 2 * zc, 2 * zc, 1);
  }
  b.Conv(p + "post_quant_conv", zc, zc, 1);
  const std::string d = p + "decoder.";
  const int64_t top = ch * mult[3];
  b.Conv(d + "conv_in", top, zc, 3);
  VaeResBlock(b, d + "mid.block_1", top, top);
  VaeAttention(b, d + "mid.attn_1", top);
  VaeResBlock(b, d + "mid.block_2", top, top);
  int64_t cin = top;
  for (int i = 3; i >= 0; --i) {
    for (int j = 0; j < 3; ++j) {
      VaeResBlock(b, d + "up." + std::to_string(i) + ".block." + std::to_string(j), cin, ch * mult[i]);
      cin = ch * mult[i];
    }
    if (i != 0) b.Conv(d + "up." + std::to_string(i) + ".upsample.conv", cin, cin, 3);
  }
  b.Norm(d + "norm_out", cin);
  b.Conv(d + "conv_out", 3, cin, 3);
}

}  // namespace

std::vector<LayoutTensor> Sd1Layout(const Sd1LayoutOptions& opts) {
  LayoutBuilder b;
  Clip(b, opts);
  Unet(b, opts);
  Vae(b, opts);
  return b.Take();
}

Sd1LayoutOptions TinySd1LayoutOptions() {
  Sd1LayoutOptions o;
  o.unet_model_channels = 32;
  o.unet_context_dim = 64;
  o.text_hidden = 64;
  o.text_layers = 2;
  o.vae_channels = 32;
  return o;
}

}  // namespace sdr
