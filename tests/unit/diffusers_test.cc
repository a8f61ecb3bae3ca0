// diffusers folders: the name tables (formats/diffusers_names.h) and ReadDiffusers, checked
// against the SD 1.x layout generator (models/sd1_layout.h) through folders written by
// testing/diffusers_fixture.h.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "formats/ckpt.h"
#include "formats/diffusers.h"
#include "formats/diffusers_names.h"
#include "formats/safetensors.h"
#include "models/sd1_layout.h"
#include "testing/diffusers_fixture.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::DiffusersFixtureOptions;
using testing::RandomSd1Tensors;
using testing::TempDir;
using testing::WriteDiffusersFolder;
using testing::WriteFileBytes;
namespace fs = std::filesystem;

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// Tiny SD 1.x widths with a small CLIP vocabulary (the real one is 49408 rows).
Sd1LayoutOptions TinyOptions() {
  Sd1LayoutOptions o = TinySd1LayoutOptions();
  o.text_vocab = 128;
  return o;
}

DiffusersFixtureOptions TinyFixture() {
  DiffusersFixtureOptions o;
  o.layout = TinyOptions();
  return o;
}

// Random f16 tensors for the whole tiny layout, made once (~28 MB).
const std::vector<NamedTensor>& TinyTensors() {
  static const std::vector<NamedTensor> tensors = RandomSd1Tensors(TinyOptions(), DType::kF16, 1234);
  return tensors;
}

std::vector<NamedTensor> WithPrefix(const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const NamedTensor& t : TinyTensors()) {
    if (StartsWith(t.name, prefix)) out.push_back(t);
  }
  return out;
}

// `index` holds exactly `expected`: same names, dtypes, shapes and bytes.
void ExpectSameTensors(const TensorIndex& index, const std::vector<NamedTensor>& expected) {
  EXPECT_EQ(index.size(), expected.size());
  for (const NamedTensor& nt : expected) {
    const TensorEntry* e = index.Find(nt.name);
    ASSERT_NE(e, nullptr) << "missing " << nt.name;
    EXPECT_EQ(e->tensor.dtype(), nt.tensor.dtype()) << nt.name;
    ASSERT_EQ(e->tensor.shape(), nt.tensor.shape()) << nt.name;
    ASSERT_EQ(e->tensor.nbytes(), nt.tensor.nbytes()) << nt.name;
    EXPECT_EQ(std::memcmp(e->tensor.raw(), nt.tensor.raw(), nt.tensor.nbytes()), 0) << nt.name;
  }
}

std::map<std::string, std::string> AsMap(const std::vector<DiffusersNamePair>& table) {
  std::map<std::string, std::string> m;
  for (const auto& p : table) m[p.diffusers] = p.ldm;
  return m;
}

// Both sides unique: no diffusers name listed twice, no LDM name claimed twice.
void ExpectBijection(const std::vector<DiffusersNamePair>& table, const std::string& what) {
  std::set<std::string> d, l;
  for (const auto& p : table) {
    EXPECT_TRUE(d.insert(p.diffusers).second) << what << ": diffusers name twice: " << p.diffusers;
    EXPECT_TRUE(l.insert(p.ldm).second) << what << ": LDM name twice: " << p.ldm;
  }
}

void ExpectTableCoversLayout(const std::vector<DiffusersNamePair>& table, const std::string& prefix,
                             const Sd1LayoutOptions& opts) {
  std::set<std::string> ldm;
  for (const auto& p : table) ldm.insert(p.ldm);
  int covered = 0;
  for (const LayoutTensor& t : Sd1Layout(opts)) {
    if (!StartsWith(t.name, prefix)) continue;
    EXPECT_TRUE(ldm.count(t.name)) << "no diffusers name maps to " << t.name;
    ++covered;
  }
  EXPECT_GT(covered, 0);
}

// ---- tables -----------------------------------------------------------------------------

TEST(DiffusersNamesTest, TablesCoverEveryLdmNameOfSd15) {
  const Sd1LayoutOptions full;  // SD 1.5 sizes: 686 UNet, 196 CLIP, 248 VAE names
  ExpectTableCoversLayout(DiffusersUnetNames({}), kLdmUnetPrefix, full);
  ExpectTableCoversLayout(DiffusersTextEncoderNames({}), kLdmTextEncoderPrefix, full);
  ExpectTableCoversLayout(DiffusersVaeNames({}), kLdmVaePrefix, full);
  DiffusersVaeTopology legacy;
  legacy.legacy_attention_names = true;
  ExpectTableCoversLayout(DiffusersVaeNames(legacy), kLdmVaePrefix, full);
}

TEST(DiffusersNamesTest, TablesAreBijections) {
  ExpectBijection(DiffusersUnetNames({}), "sd1 unet");
  ExpectBijection(DiffusersTextEncoderNames({}), "clip");
  ExpectBijection(DiffusersVaeNames({}), "vae");
  DiffusersVaeTopology legacy;
  legacy.legacy_attention_names = true;
  ExpectBijection(DiffusersVaeNames(legacy), "legacy vae");
  // Other topologies: 3 levels, deeper transformers, 3 layers per block, no mid attention.
  DiffusersUnetTopology xl;
  xl.levels = 3;
  xl.down_attention = {false, true, true};
  xl.up_attention = {true, true, false};
  xl.transformer_depth = {1, 2, 10};
  ExpectBijection(DiffusersUnetNames(xl), "xl-like unet");
  DiffusersUnetTopology odd;
  odd.layers_per_block = 3;
  odd.mid_attention = false;
  ExpectBijection(DiffusersUnetNames(odd), "odd unet");
  DiffusersVaeTopology vae3;
  vae3.levels = 3;
  vae3.layers_per_block = 1;
  ExpectBijection(DiffusersVaeNames(vae3), "3-level vae");
}

TEST(DiffusersNamesTest, UnetPairsFollowTheLdmBlockNumbering) {
  const auto m = AsMap(DiffusersUnetNames({}));
  const std::string p = kLdmUnetPrefix;
  const std::map<std::string, std::string> expected = {
      {"conv_in.weight", "input_blocks.0.0.weight"},
      {"time_embedding.linear_1.bias", "time_embed.0.bias"},
      {"time_embedding.linear_2.weight", "time_embed.2.weight"},
      {"down_blocks.0.resnets.0.norm1.weight", "input_blocks.1.0.in_layers.0.weight"},
      {"down_blocks.0.resnets.1.conv1.weight", "input_blocks.2.0.in_layers.2.weight"},
      {"down_blocks.1.resnets.0.time_emb_proj.weight", "input_blocks.4.0.emb_layers.1.weight"},
      {"down_blocks.1.resnets.0.norm2.bias", "input_blocks.4.0.out_layers.0.bias"},
      {"down_blocks.1.resnets.0.conv2.weight", "input_blocks.4.0.out_layers.3.weight"},
      {"down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight"},
      {"down_blocks.2.attentions.1.proj_in.weight", "input_blocks.8.1.proj_in.weight"},
      {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
       "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"},
      {"down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
       "input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight"},
      {"down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"},
      {"down_blocks.2.downsamplers.0.conv.bias", "input_blocks.9.0.op.bias"},
      {"down_blocks.3.resnets.1.conv2.weight", "input_blocks.11.0.out_layers.3.weight"},
      {"mid_block.resnets.0.conv1.weight", "middle_block.0.in_layers.2.weight"},
      {"mid_block.attentions.0.transformer_blocks.0.norm3.weight", "middle_block.1.transformer_blocks.0.norm3.weight"},
      {"mid_block.resnets.1.conv2.bias", "middle_block.2.out_layers.3.bias"},
      {"up_blocks.0.resnets.2.conv1.weight", "output_blocks.2.0.in_layers.2.weight"},
      {"up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"},
      {"up_blocks.1.attentions.2.proj_out.weight", "output_blocks.5.1.proj_out.weight"},
      {"up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"},
      {"up_blocks.2.upsamplers.0.conv.bias", "output_blocks.8.2.conv.bias"},
      {"up_blocks.3.resnets.0.conv_shortcut.weight", "output_blocks.9.0.skip_connection.weight"},
      {"up_blocks.3.attentions.2.norm.weight", "output_blocks.11.1.norm.weight"},
      {"conv_norm_out.weight", "out.0.weight"},
      {"conv_out.bias", "out.2.bias"},
  };
  for (const auto& [d, l] : expected) {
    auto it = m.find(d);
    ASSERT_NE(it, m.end()) << d;
    EXPECT_EQ(it->second, p + l) << d;
  }
  // No upsampler on the last up level, no downsampler on the last down level.
  EXPECT_EQ(m.count("up_blocks.3.upsamplers.0.conv.weight"), 0u);
  EXPECT_EQ(m.count("down_blocks.3.downsamplers.0.conv.weight"), 0u);
  EXPECT_EQ(m.count("down_blocks.3.attentions.0.norm.weight"), 0u);
  EXPECT_EQ(m.count("up_blocks.0.attentions.0.norm.weight"), 0u);
}

TEST(DiffusersNamesTest, UnetTableFollowsTheTopology) {
  // An SDXL-like UNet: 3 levels, attention on the lower two, 1/2/10 transformer blocks.
  DiffusersUnetTopology t;
  t.levels = 3;
  t.down_attention = {false, true, true};
  t.up_attention = {true, true, false};
  t.transformer_depth = {1, 2, 10};
  const auto m = AsMap(DiffusersUnetNames(t));
  const std::string p = kLdmUnetPrefix;
  EXPECT_EQ(m.at("down_blocks.2.attentions.1.transformer_blocks.9.attn1.to_q.weight"),
            p + "input_blocks.8.1.transformer_blocks.9.attn1.to_q.weight");
  EXPECT_EQ(m.at("up_blocks.0.attentions.2.transformer_blocks.9.ff.net.2.bias"),
            p + "output_blocks.2.1.transformer_blocks.9.ff.net.2.bias");
  EXPECT_EQ(m.at("up_blocks.0.upsamplers.0.conv.weight"), p + "output_blocks.2.2.conv.weight");
  EXPECT_EQ(m.at("up_blocks.2.resnets.2.conv1.weight"), p + "output_blocks.8.0.in_layers.2.weight");
  EXPECT_EQ(m.at("mid_block.attentions.0.transformer_blocks.9.norm1.weight"),
            p + "middle_block.1.transformer_blocks.9.norm1.weight");
  EXPECT_EQ(m.count("down_blocks.1.attentions.0.transformer_blocks.2.norm1.weight"), 0u);
  EXPECT_EQ(m.count("down_blocks.0.attentions.0.norm.weight"), 0u);
  // layers_per_block = 3: four blocks per level.
  DiffusersUnetTopology three;
  three.layers_per_block = 3;
  three.mid_attention = false;
  const auto m3 = AsMap(DiffusersUnetNames(three));
  EXPECT_EQ(m3.at("down_blocks.1.resnets.2.conv1.weight"), p + "input_blocks.7.0.in_layers.2.weight");
  EXPECT_EQ(m3.at("down_blocks.1.downsamplers.0.conv.weight"), p + "input_blocks.8.0.op.weight");
  EXPECT_EQ(m3.at("up_blocks.1.upsamplers.0.conv.weight"), p + "output_blocks.7.2.conv.weight");
  EXPECT_EQ(m3.at("mid_block.resnets.1.conv1.weight"), p + "middle_block.1.in_layers.2.weight");
  EXPECT_EQ(m3.count("mid_block.attentions.0.norm.weight"), 0u);
}

TEST(DiffusersNamesTest, VaePairsReverseTheDecoderLevels) {
  const std::string p = kLdmVaePrefix;
  for (bool legacy : {false, true}) {
    DiffusersVaeTopology t;
    t.legacy_attention_names = legacy;
    const auto table = DiffusersVaeNames(t);
    const auto m = AsMap(table);
    EXPECT_EQ(m.at("encoder.down_blocks.1.resnets.0.conv_shortcut.weight"), p + "encoder.down.1.block.0.nin_shortcut.weight");
    EXPECT_EQ(m.at("encoder.down_blocks.2.downsamplers.0.conv.weight"), p + "encoder.down.2.downsample.conv.weight");
    EXPECT_EQ(m.at("encoder.mid_block.resnets.1.norm2.bias"), p + "encoder.mid.block_2.norm2.bias");
    EXPECT_EQ(m.at("encoder.conv_norm_out.weight"), p + "encoder.norm_out.weight");
    EXPECT_EQ(m.at("quant_conv.weight"), p + "quant_conv.weight");
    EXPECT_EQ(m.at("post_quant_conv.bias"), p + "post_quant_conv.bias");
    EXPECT_EQ(m.at("decoder.up_blocks.0.resnets.2.conv1.weight"), p + "decoder.up.3.block.2.conv1.weight");
    EXPECT_EQ(m.at("decoder.up_blocks.0.upsamplers.0.conv.weight"), p + "decoder.up.3.upsample.conv.weight");
    EXPECT_EQ(m.at("decoder.up_blocks.2.resnets.0.conv_shortcut.bias"), p + "decoder.up.1.block.0.nin_shortcut.bias");
    EXPECT_EQ(m.at("decoder.up_blocks.3.resnets.0.norm1.weight"), p + "decoder.up.0.block.0.norm1.weight");
    EXPECT_EQ(m.count("decoder.up_blocks.3.upsamplers.0.conv.weight"), 0u);
    EXPECT_EQ(m.at("decoder.conv_norm_out.bias"), p + "decoder.norm_out.bias");
    EXPECT_EQ(m.at("decoder.mid_block.attentions.0.group_norm.weight"), p + "decoder.mid.attn_1.norm.weight");
    const std::string q = legacy ? "query" : "to_q";
    const std::string o = legacy ? "proj_attn" : "to_out.0";
    EXPECT_EQ(m.at("decoder.mid_block.attentions.0." + q + ".weight"), p + "decoder.mid.attn_1.q.weight");
    EXPECT_EQ(m.at("encoder.mid_block.attentions.0." + o + ".bias"), p + "encoder.mid.attn_1.proj_out.bias");
    // Only the attention projection weights change shape.
    for (const auto& pair : table) {
      const bool proj_weight = pair.ldm.find(".attn_1.") != std::string::npos &&
                               pair.ldm.find(".norm.") == std::string::npos &&
                               pair.ldm.size() > 7 && pair.ldm.compare(pair.ldm.size() - 7, 7, ".weight") == 0;
      EXPECT_EQ(pair.linear_as_conv1x1, proj_weight) << pair.diffusers;
    }
  }
}

TEST(DiffusersNamesTest, TextEncoderNamesKeepTheirSuffix) {
  const auto table = DiffusersTextEncoderNames({.layers = 2});
  EXPECT_EQ(table.size(), 2u + 2 * 16 + 2);
  for (const auto& p : table) EXPECT_EQ(p.ldm, kLdmTextEncoderPrefix + p.diffusers);
}

// ---- reading folders --------------------------------------------------------------------

TEST(DiffusersReadTest, TinySd1FolderGivesTheLdmLayout) {
  TempDir dir;
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), TinyTensors(), TinyFixture()).ok());
  EXPECT_TRUE(IsDiffusersFolder(dir.path().string()));
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, TinyTensors());
  // Exactly the names and shapes of the layout generator.
  const auto layout = Sd1Layout(TinyOptions());
  ASSERT_EQ(index.size(), layout.size());
  for (const LayoutTensor& t : layout) {
    const TensorEntry* e = index.Find(t.name);
    ASSERT_NE(e, nullptr) << t.name;
    EXPECT_EQ(e->tensor.shape(), t.shape) << t.name;
  }
  EXPECT_EQ(index.format, ModelFormat::kDiffusers);
  EXPECT_EQ(index.metadata.at("diffusers_class"), "StableDiffusionPipeline");
  EXPECT_EQ(index.metadata.at("diffusers_version"), "0.21.0");
  EXPECT_EQ(index.metadata.at("diffusers_tokenizer_dir"), (dir.path() / "tokenizer").string());
  EXPECT_EQ(index.metadata.at("unet.format"), "pt");
  // The VAE attention projections are stored [C, C] and presented as 1x1 convs.
  const TensorEntry* q = index.Find("first_stage_model.decoder.mid.attn_1.q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->tensor.shape(), (Shape{128, 128, 1, 1}));
}

TEST(DiffusersReadTest, TopologyFromNamesWhenConfigsAreAbsent) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.write_configs = false;
  opts.write_model_index = false;
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), TinyTensors(), opts).ok());
  EXPECT_FALSE(IsDiffusersFolder(dir.path().string()));  // neither model_index.json nor unet/config.json
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, TinyTensors());
  EXPECT_EQ(index.metadata.count("diffusers_class"), 0u);
}

TEST(DiffusersReadTest, LegacyVaeAttentionNames) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.legacy_vae_attention_names = true;
  const auto vae = WithPrefix(kLdmVaePrefix);
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), vae, opts).ok());
  TensorIndex raw;
  ASSERT_TRUE(ReadSafetensors(dir.File("vae/diffusion_pytorch_model.safetensors"), &raw).ok());
  ASSERT_NE(raw.Find("encoder.mid_block.attentions.0.query.weight"), nullptr);
  EXPECT_EQ(raw.Find("encoder.mid_block.attentions.0.query.weight")->tensor.shape(), (Shape{128, 128}));
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, vae);
}

TEST(DiffusersReadTest, ShardedUnet) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.unet_shards = 3;
  const auto unet = WithPrefix(kLdmUnetPrefix);
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), unet, opts).ok());
  ASSERT_TRUE(fs::exists(dir.path() / "unet/diffusion_pytorch_model.safetensors.index.json"));
  ASSERT_TRUE(fs::exists(dir.path() / "unet/diffusion_pytorch_model-00003-of-00003.safetensors"));
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, unet);
}

TEST(DiffusersReadTest, Fp16VariantAndPreferenceForThePlainFile) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.fp16_variant_names = true;
  const auto clip = WithPrefix(kLdmTextEncoderPrefix);
  const auto vae = WithPrefix(kLdmVaePrefix);
  std::vector<NamedTensor> both = clip;
  both.insert(both.end(), vae.begin(), vae.end());
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), both, opts).ok());
  ASSERT_TRUE(fs::exists(dir.path() / "text_encoder/model.fp16.safetensors"));
  ASSERT_TRUE(fs::exists(dir.path() / "vae/diffusion_pytorch_model.fp16.safetensors"));
  {
    TensorIndex index;
    Status s = ReadDiffusers(dir.path().string(), &index);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectSameTensors(index, both);
  }
  // A plain (full-precision) text encoder file beside the variant wins.
  const auto f32 = RandomSd1Tensors(TinyOptions(), DType::kF32, 99);
  std::vector<NamedTensor> clip32;
  for (const auto& t : f32) {
    if (StartsWith(t.name, kLdmTextEncoderPrefix)) clip32.push_back(t);
  }
  DiffusersFixtureOptions plain = TinyFixture();
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), clip32, plain).ok());
  std::vector<NamedTensor> expected = clip32;
  expected.insert(expected.end(), vae.begin(), vae.end());
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, expected);
}

TEST(DiffusersReadTest, MissingComponentIsAbsentButEmptyFolderIsNotFound) {
  TempDir dir;
  const auto clip = WithPrefix(kLdmTextEncoderPrefix);
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), clip, TinyFixture()).ok());
  ASSERT_FALSE(fs::exists(dir.path() / "unet"));
  {
    TensorIndex index;
    Status s = ReadDiffusers(dir.path().string(), &index);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectSameTensors(index, clip);
  }
  fs::create_directories(dir.path() / "vae");
  WriteFileBytes(dir.File("vae/config.json"), "{}");
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find((dir.path() / "vae").string()), std::string::npos) << s.ToString();
}

TEST(DiffusersReadTest, NoComponentsAtAllIsNotFound) {
  TempDir dir;
  WriteFileBytes(dir.File("model_index.json"), R"({"_class_name": "StableDiffusionPipeline"})");
  EXPECT_TRUE(IsDiffusersFolder(dir.path().string()));
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_EQ(ReadDiffusers(dir.File("nope"), &index).code(), StatusCode::kNotFound);
}

Tensor SmallTensor(Shape shape) {
  auto t = Tensor::Zeros(DType::kF32, std::move(shape));
  SDR_CHECK(t.ok());
  return *t;
}

void ExpectReadError(const std::string& dir, StatusCode code, const std::string& needle) {
  TensorIndex index;
  Status s = ReadDiffusers(dir, &index);
  ASSERT_FALSE(s.ok()) << "expected an error containing '" << needle << "'";
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST(DiffusersReadTest, UnknownTensorNameIsAnErrorNamingIt) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.extra_tensors["vae"] = {{"decoder.up_blocks.0.resnets.0.bogus.weight", SmallTensor({4})}};
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), WithPrefix(kLdmVaePrefix), opts).ok());
  ExpectReadError(dir.path().string(), StatusCode::kUnsupported, "decoder.up_blocks.0.resnets.0.bogus.weight");
}

TEST(DiffusersReadTest, TensorOutsideTheConfiguredTopologyIsAnError) {
  // config.json says 2 layers per block; a third resnet has no LDM name.
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.extra_tensors["unet"] = {{"down_blocks.0.resnets.2.conv1.bias", SmallTensor({32})}};
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), WithPrefix(kLdmUnetPrefix), opts).ok());
  ExpectReadError(dir.path().string(), StatusCode::kUnsupported, "down_blocks.0.resnets.2.conv1.bias");
  // Without config.json the names define the topology: the table grows and the tensor maps.
  fs::remove(dir.path() / "unet/config.json");
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(index.Find("model.diffusion_model.input_blocks.3.0.in_layers.2.bias"), nullptr);
}

TEST(DiffusersReadTest, PositionIdsAreIgnored) {
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  auto ids = Tensor::Zeros(DType::kI64, {1, 77});
  ASSERT_TRUE(ids.ok());
  opts.extra_tensors["text_encoder"] = {{"text_model.embeddings.position_ids", *ids}};
  const auto clip = WithPrefix(kLdmTextEncoderPrefix);
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), clip, opts).ok());
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, clip);
  EXPECT_EQ(index.ignored_tensors, 1);
}

TEST(DiffusersReadTest, BadVaeAttentionShapeIsCorrupt) {
  TempDir dir;
  fs::create_directories(dir.path() / "vae");
  ASSERT_TRUE(WriteSafetensors(dir.File("vae/diffusion_pytorch_model.safetensors"),
                               {{"decoder.mid_block.attentions.0.to_q.weight", SmallTensor({4, 4, 2})}})
                  .ok());
  ExpectReadError(dir.path().string(), StatusCode::kCorruptData, "decoder.mid_block.attentions.0.to_q.weight");
}

TEST(DiffusersReadTest, BadModelIndexJson) {
  const auto clip = WithPrefix(kLdmTextEncoderPrefix);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"_class_name": 7})", "_class_name"},
  };
  for (const auto& [text, needle] : cases) {
    TempDir dir;
    ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), clip, TinyFixture()).ok());
    WriteFileBytes(dir.File("model_index.json"), text);
    ExpectReadError(dir.path().string(), StatusCode::kCorruptData, needle);
    ExpectReadError(dir.path().string(), StatusCode::kCorruptData, "model_index.json");
  }
}

TEST(DiffusersReadTest, BadOrHostileConfigs) {
  const auto unet = WithPrefix(kLdmUnetPrefix);
  struct Case {
    std::string config, needle;
    StatusCode code;
  };
  const std::vector<Case> cases = {
      {"[]", "not a JSON object", StatusCode::kCorruptData},
      {R"({"layers_per_block": 1000000000})", "layers_per_block", StatusCode::kUnsupported},
      {R"({"layers_per_block": "two"})", "layers_per_block", StatusCode::kCorruptData},
      {R"({"block_out_channels": [1,2,3,4,5,6,7,8,9,10]})", "block_out_channels", StatusCode::kUnsupported},
      {R"({"block_out_channels": [32, 64, 128, 128], "down_block_types": ["DownBlock2D"]})", "down_block_types",
       StatusCode::kCorruptData},
      {R"({"block_out_channels": [32, 64, 128, 128], "down_block_types": ["AttnDownBlock2D", "DownBlock2D",
          "DownBlock2D", "DownBlock2D"]})", "AttnDownBlock2D", StatusCode::kUnsupported},
      {R"({"mid_block_type": "UNetMidBlockFancy"})", "UNetMidBlockFancy", StatusCode::kUnsupported},
      {R"({"block_out_channels": [32, 64, 128, 128], "transformer_layers_per_block": [1, 1, 100000, 1]})",
       "transformer_layers_per_block", StatusCode::kUnsupported},
  };
  TempDir dir;
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), unet, TinyFixture()).ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config);
    WriteFileBytes(dir.File("unet/config.json"), c.config);
    ExpectReadError(dir.path().string(), c.code, c.needle);
  }
}

TEST(DiffusersReadTest, HostileNamesWithoutConfigAreBounded) {
  // Absurd indices in names must not size a huge table.
  TempDir dir;
  fs::create_directories(dir.path() / "unet");
  ASSERT_TRUE(WriteSafetensors(dir.File("unet/diffusion_pytorch_model.safetensors"),
                               {{"down_blocks.2147483647.resnets.0.conv1.bias", SmallTensor({4})}})
                  .ok());
  ExpectReadError(dir.path().string(), StatusCode::kUnsupported, "levels");
  ASSERT_TRUE(WriteSafetensors(dir.File("unet/diffusion_pytorch_model.safetensors"),
                               {{"down_blocks.0.attentions.0.transformer_blocks.99999999999.norm1.bias",
                                 SmallTensor({4})}})
                  .ok());
  ExpectReadError(dir.path().string(), StatusCode::kUnsupported, "transformer");
  fs::create_directories(dir.path() / "text_encoder");
  fs::remove(dir.File("unet/diffusion_pytorch_model.safetensors"));
  fs::remove(dir.path() / "unet");
  ASSERT_TRUE(WriteSafetensors(dir.File("text_encoder/model.safetensors"),
                               {{"text_model.encoder.layers.100000.mlp.fc1.bias", SmallTensor({4})}})
                  .ok());
  ExpectReadError(dir.path().string(), StatusCode::kUnsupported, "num_hidden_layers");
}

TEST(DiffusersReadTest, IsDiffusersFolder) {
  TempDir dir;
  EXPECT_FALSE(IsDiffusersFolder(dir.path().string()));
  EXPECT_FALSE(IsDiffusersFolder(dir.File("missing")));
  fs::create_directories(dir.path() / "unet");
  EXPECT_FALSE(IsDiffusersFolder(dir.path().string()));
  WriteFileBytes(dir.File("unet/config.json"), "{}");
  EXPECT_TRUE(IsDiffusersFolder(dir.path().string()));
  WriteFileBytes(dir.File("model_index.json"), "{}");
  EXPECT_TRUE(IsDiffusersFolder(dir.path().string()));
  EXPECT_FALSE(IsDiffusersFolder(dir.File("model_index.json")));  // a file, not a folder
}

// True when ReadCkpt reads back what WriteCkpt wrote (the ckpt reader may still be a stub).
bool CkptWorks() {
  TempDir dir;
  const std::string path = dir.File("probe.bin");
  if (!WriteCkpt(path, {{"x", SmallTensor({2})}}, false).ok()) return false;
  TensorIndex index;
  return ReadCkpt(path, &index).ok() && index.Find("x") != nullptr;
}

TEST(DiffusersReadTest, TorchBinWeights) {
  if (!CkptWorks()) GTEST_SKIP() << "ReadCkpt/WriteCkpt not functional yet";
  TempDir dir;
  DiffusersFixtureOptions opts = TinyFixture();
  opts.torch_bin = true;
  const auto clip = WithPrefix(kLdmTextEncoderPrefix);
  auto vae = WithPrefix(kLdmVaePrefix);
  std::vector<NamedTensor> both = clip;
  both.insert(both.end(), vae.begin(), vae.end());
  ASSERT_TRUE(WriteDiffusersFolder(dir.path().string(), both, opts).ok());
  ASSERT_TRUE(fs::exists(dir.path() / "text_encoder/pytorch_model.bin"));
  ASSERT_TRUE(fs::exists(dir.path() / "vae/diffusion_pytorch_model.bin"));
  TensorIndex index;
  Status s = ReadDiffusers(dir.path().string(), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, both);
}

}  // namespace
}  // namespace sdr
