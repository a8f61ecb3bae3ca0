// The diffusers -> LDM name tables (see diffusers_names.h), one walk of each topology.
#include "formats/diffusers_names.h"

#include <utility>

#include "core/check.h"

namespace sdr {
namespace {

std::string Str(int i) { return std::to_string(i); }

// Collects pairs; `ldm_prefix` is prepended to every LDM name.
class TableBuilder {
 public:
  explicit TableBuilder(std::string ldm_prefix) : ldm_prefix_(std::move(ldm_prefix)) {}

  void Param(const std::string& d, const std::string& l, bool linear_as_conv1x1 = false) {
    out_.push_back({d, ldm_prefix_ + l, linear_as_conv1x1});
  }
  // A module with .weight and .bias (conv, linear, norm).
  void Module(const std::string& d, const std::string& l) {
    Param(d + ".weight", l + ".weight");
    Param(d + ".bias", l + ".bias");
  }
  // A diffusers Linear [C, C] standing for an LDM 1x1 conv [C, C, 1, 1]; the bias is [C] in both.
  void LinearAsConv(const std::string& d, const std::string& l) {
    Param(d + ".weight", l + ".weight", /*linear_as_conv1x1=*/true);
    Param(d + ".bias", l + ".bias");
  }
  std::vector<DiffusersNamePair> Take() { return std::move(out_); }

 private:
  std::string ldm_prefix_;
  std::vector<DiffusersNamePair> out_;
};

// --- UNet -------------------------------------------------------------------------------------

// ResnetBlock2D -> LDM ResBlock.
void UnetResnet(TableBuilder& b, const std::string& d, const std::string& l) {
  b.Module(d + ".norm1", l + ".in_layers.0");
  b.Module(d + ".conv1", l + ".in_layers.2");
  b.Module(d + ".time_emb_proj", l + ".emb_layers.1");
  b.Module(d + ".norm2", l + ".out_layers.0");
  b.Module(d + ".conv2", l + ".out_layers.3");
  b.Module(d + ".conv_shortcut", l + ".skip_connection");  // only where widths change
}

// Transformer2DModel -> LDM SpatialTransformer: the sub-names are the same on both sides.
void UnetTransformer(TableBuilder& b, const std::string& d, const std::string& l, int depth) {
  auto same = [&](const std::string& sub) { b.Module(d + "." + sub, l + "." + sub); };
  same("norm");
  same("proj_in");
  for (int k = 0; k < depth; ++k) {
    const std::string t = "transformer_blocks." + Str(k) + ".";
    for (const char* attn : {"attn1", "attn2"}) {
      for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) same(t + attn + "." + proj);
    }
    same(t + "ff.net.0.proj");
    same(t + "ff.net.2");
    for (const char* norm : {"norm1", "norm2", "norm3"}) same(t + norm);
  }
  same("proj_out");
}

// --- VAE --------------------------------------------------------------------------------------

void VaeResnet(TableBuilder& b, const std::string& d, const std::string& l) {
  for (const char* sub : {"norm1", "conv1", "norm2", "conv2"}) {
    b.Module(d + "." + sub, l + "." + sub);
  }
  b.Module(d + ".conv_shortcut", l + ".nin_shortcut");  // only where widths change
}

void VaeMidBlock(TableBuilder& b, const std::string& d, const std::string& l, bool legacy) {
  VaeResnet(b, d + ".resnets.0", l + ".block_1");
  const std::string a = d + ".attentions.0.";
  b.Module(a + "group_norm", l + ".attn_1.norm");
  b.LinearAsConv(a + (legacy ? "query" : "to_q"), l + ".attn_1.q");
  b.LinearAsConv(a + (legacy ? "key" : "to_k"), l + ".attn_1.k");
  b.LinearAsConv(a + (legacy ? "value" : "to_v"), l + ".attn_1.v");
  b.LinearAsConv(a + (legacy ? "proj_attn" : "to_out.0"), l + ".attn_1.proj_out");
  VaeResnet(b, d + ".resnets.1", l + ".block_2");
}

}  // namespace

std::vector<DiffusersNamePair> DiffusersUnetNames(const DiffusersUnetTopology& t) {
  SDR_CHECK(t.levels >= 1 && t.layers_per_block >= 1);
  SDR_CHECK(t.down_attention.size() == static_cast<size_t>(t.levels));
  SDR_CHECK(t.up_attention.size() == static_cast<size_t>(t.levels));
  SDR_CHECK(t.transformer_depth.size() == static_cast<size_t>(t.levels));
  TableBuilder b(kLdmUnetPrefix);
  const int L = t.layers_per_block;
  const int n = t.levels;
  b.Module("time_embedding.linear_1", "time_embed.0");
  b.Module("time_embedding.linear_2", "time_embed.2");
  b.Module("conv_in", "input_blocks.0.0");
  // input_blocks: [conv_in], then per level L x (resnet [+ attention]) and a downsampler
  // block on all but the last level: level i, layer j -> input_blocks.(1 + i(L+1) + j).
  for (int i = 0; i < n; ++i) {
    const std::string d = "down_blocks." + Str(i);
    for (int j = 0; j < L; ++j) {
      const std::string l = "input_blocks." + Str(1 + i * (L + 1) + j);
      UnetResnet(b, d + ".resnets." + Str(j), l + ".0");
      if (t.down_attention[i]) {
        UnetTransformer(b, d + ".attentions." + Str(j), l + ".1", t.transformer_depth[i]);
      }
    }
    if (i + 1 < n) b.Module(d + ".downsamplers.0.conv", "input_blocks." + Str((i + 1) * (L + 1)) + ".0.op");
  }
  // middle_block: resnet, [attention,] resnet.
  UnetResnet(b, "mid_block.resnets.0", "middle_block.0");
  if (t.mid_attention) UnetTransformer(b, "mid_block.attentions.0", "middle_block.1", t.transformer_depth[n - 1]);
  UnetResnet(b, "mid_block.resnets.1", t.mid_attention ? "middle_block.2" : "middle_block.1");
  // output_blocks: per level (lowest resolution first) (L+1) x (resnet [+ attention]); the
  // last block of all but the last level also holds the upsampler, after its attention.
  for (int i = 0; i < n; ++i) {
    const std::string d = "up_blocks." + Str(i);
    for (int j = 0; j <= L; ++j) {
      const std::string l = "output_blocks." + Str(i * (L + 1) + j);
      UnetResnet(b, d + ".resnets." + Str(j), l + ".0");
      if (t.up_attention[i]) {
        UnetTransformer(b, d + ".attentions." + Str(j), l + ".1", t.transformer_depth[n - 1 - i]);
      }
    }
    if (i + 1 < n) {
      b.Module(d + ".upsamplers.0.conv", "output_blocks." + Str(i * (L + 1) + L) + "." +
                                             (t.up_attention[i] ? "2" : "1") + ".conv");
    }
  }
  b.Module("conv_norm_out", "out.0");
  b.Module("conv_out", "out.2");
  return b.Take();
}

std::vector<DiffusersNamePair> DiffusersVaeNames(const DiffusersVaeTopology& t) {
  SDR_CHECK(t.levels >= 1 && t.layers_per_block >= 1);
  TableBuilder b(kLdmVaePrefix);
  const int L = t.layers_per_block;
  const int n = t.levels;
  // Encoder: levels in the same order on both sides.
  b.Module("encoder.conv_in", "encoder.conv_in");
  for (int i = 0; i < n; ++i) {
    const std::string d = "encoder.down_blocks." + Str(i);
    const std::string l = "encoder.down." + Str(i);
    for (int j = 0; j < L; ++j) VaeResnet(b, d + ".resnets." + Str(j), l + ".block." + Str(j));
    if (i + 1 < n) b.Module(d + ".downsamplers.0.conv", l + ".downsample.conv");
  }
  VaeMidBlock(b, "encoder.mid_block", "encoder.mid", t.legacy_attention_names);
  b.Module("encoder.conv_norm_out", "encoder.norm_out");
  b.Module("encoder.conv_out", "encoder.conv_out");
  b.Module("quant_conv", "quant_conv");
  // Decoder: diffusers up_blocks.i is LDM up.(n-1-i) (LDM indexes levels by resolution).
  b.Module("post_quant_conv", "post_quant_conv");
  b.Module("decoder.conv_in", "decoder.conv_in");
  VaeMidBlock(b, "decoder.mid_block", "decoder.mid", t.legacy_attention_names);
  for (int i = 0; i < n; ++i) {
    const std::string d = "decoder.up_blocks." + Str(i);
    const std::string l = "decoder.up." + Str(n - 1 - i);
    for (int j = 0; j <= L; ++j) VaeResnet(b, d + ".resnets." + Str(j), l + ".block." + Str(j));
    if (i + 1 < n) b.Module(d + ".upsamplers.0.conv", l + ".upsample.conv");
  }
  b.Module("decoder.conv_norm_out", "decoder.norm_out");
  b.Module("decoder.conv_out", "decoder.conv_out");
  return b.Take();
}

std::vector<DiffusersNamePair> DiffusersTextEncoderNames(const DiffusersTextEncoderTopology& t) {
  SDR_CHECK(t.layers >= 0);
  // transformers' CLIPTextModel names are the LDM FrozenCLIPEmbedder's below its prefix.
  TableBuilder b(kLdmTextEncoderPrefix);
  const std::string p = "text_model.";
  b.Param(p + "embeddings.token_embedding.weight", p + "embeddings.token_embedding.weight");
  b.Param(p + "embeddings.position_embedding.weight", p + "embeddings.position_embedding.weight");
  for (int i = 0; i < t.layers; ++i) {
    const std::string l = p + "encoder.layers." + Str(i) + ".";
    for (const char* sub : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                            "layer_norm1", "mlp.fc1", "mlp.fc2", "layer_norm2"}) {
      b.Module(l + sub, l + sub);
    }
  }
  b.Module(p + "final_layer_norm", p + "final_layer_norm");
  return b.Take();
}

}  // namespace sdr
