#include "testing/diffusers_fixture.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/half.h"
#include "formats/ckpt.h"
#include "formats/diffusers_names.h"
#include "formats/safetensors.h"

namespace sdr::testing {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

Status WriteJson(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out) return IoError("cannot write '" + path.string() + "'");
  return Status::Ok();
}

// The component a table belongs to, and everything needed to write it.
struct Component {
  std::string folder;
  std::string ldm_prefix;
  std::string file_stem;  // "diffusion_pytorch_model" or "model" (transformers)
  std::vector<DiffusersNamePair> table;
  json config;
  std::vector<NamedTensor> tensors;  // diffusers names
};

std::vector<Component> MakeComponents(const DiffusersFixtureOptions& opts) {
  const Sd1LayoutOptions& o = opts.layout;
  std::vector<Component> out;
  {
    Component unet{"unet", kLdmUnetPrefix, "diffusion_pytorch_model", DiffusersUnetNames({}), {}, {}};
    const int mc = o.unet_model_channels;
    unet.config = {{"_class_name", "UNet2DConditionModel"},
                   {"_diffusers_version", "0.21.0"},
                   {"in_channels", 4},
                   {"out_channels", 4},
                   {"block_out_channels", {mc, 2 * mc, 4 * mc, 4 * mc}},
                   {"layers_per_block", 2},
                   {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                         "DownBlock2D"}},
                   {"mid_block_type", "UNetMidBlock2DCrossAttn"},
                   {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                       "CrossAttnUpBlock2D"}},
                   {"cross_attention_dim", o.unet_context_dim},
                   {"attention_head_dim", 8}};
    out.push_back(std::move(unet));
  }
  {
    Component text{"text_encoder", kLdmTextEncoderPrefix, "model",
                   DiffusersTextEncoderNames({.layers = o.text_layers}), {}, {}};
    text.config = {{"architectures", json::array({"CLIPTextModel"})},
                   {"hidden_size", o.text_hidden},
                   {"intermediate_size", 4 * o.text_hidden},
                   {"num_hidden_layers", o.text_layers},
                   {"max_position_embeddings", o.text_positions},
                   {"vocab_size", o.text_vocab}};
    out.push_back(std::move(text));
  }
  {
    DiffusersVaeTopology vt;
    vt.legacy_attention_names = opts.legacy_vae_attention_names;
    Component vae{"vae", kLdmVaePrefix, "diffusion_pytorch_model", DiffusersVaeNames(vt), {}, {}};
    const int ch = o.vae_channels;
    vae.config = {{"_class_name", "AutoencoderKL"},
                  {"block_out_channels", {ch, 2 * ch, 4 * ch, 4 * ch}},
                  {"layers_per_block", 2},
                  {"latent_channels", 4},
                  {"down_block_types", std::vector<std::string>(4, "DownEncoderBlock2D")},
                  {"up_block_types", std::vector<std::string>(4, "UpDecoderBlock2D")}};
    out.push_back(std::move(vae));
  }
  return out;
}

Status WriteWeights(const fs::path& folder, const Component& c, const DiffusersFixtureOptions& opts) {
  const std::string variant = opts.fp16_variant_names ? ".fp16" : "";
  if (opts.torch_bin) {
    const std::string name = (c.file_stem == "model" ? "pytorch_model" : c.file_stem) + variant + ".bin";
    return WriteCkpt((folder / name).string(), c.tensors, /*wrap_in_state_dict=*/false);
  }
  const int shards = c.folder == "unet" ? std::max(opts.unet_shards, 1) : 1;
  if (shards == 1) {
    return WriteSafetensors((folder / (c.file_stem + variant + ".safetensors")).string(), c.tensors,
                            {{"format", "pt"}});
  }
  json weight_map = json::object();
  uint64_t total = 0;
  const size_t per_shard = (c.tensors.size() + shards - 1) / shards;
  for (int s = 0; s < shards; ++s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "-%05d-of-%05d", s + 1, shards);
    const std::string shard = c.file_stem + variant + buf + ".safetensors";
    const size_t begin = std::min(c.tensors.size(), s * per_shard);
    const size_t end = std::min(c.tensors.size(), begin + per_shard);
    std::vector<NamedTensor> part(c.tensors.begin() + begin, c.tensors.begin() + end);
    for (const NamedTensor& t : part) {
      weight_map[t.name] = shard;
      total += t.tensor.nbytes();
    }
    SDR_RETURN_IF_ERROR(WriteSafetensors((folder / shard).string(), part, {{"format", "pt"}}));
  }
  // diffusers names the fp16 variant's index "<stem>.safetensors.index.fp16.json".
  const std::string index_name = c.file_stem + ".safetensors.index" + variant + ".json";
  return WriteJson(folder / index_name, {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
}

}  // namespace

std::vector<NamedTensor> RandomSd1Tensors(const Sd1LayoutOptions& layout, DType dtype, uint32_t seed) {
  SDR_CHECK(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<NamedTensor> out;
  for (const LayoutTensor& lt : Sd1Layout(layout)) {
    Result<Tensor> t = Tensor::Allocate(dtype, lt.shape);
    SDR_CHECK(t.ok());
    for (int64_t i = 0; i < t->numel(); ++i) {
      const float v = dist(rng);
      if (dtype == DType::kF32) {
        t->mutable_data<float>()[i] = v;
      } else {
        t->mutable_data<uint16_t>()[i] = dtype == DType::kF16 ? F32ToF16(v) : F32ToBF16(v);
      }
    }
    out.push_back({lt.name, std::move(*t)});
  }
  return out;
}

Status WriteDiffusersFolder(const std::string& dir, const std::vector<NamedTensor>& ldm_tensors,
                            const DiffusersFixtureOptions& opts) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create '" + dir + "': " + ec.message());
  std::vector<Component> components = MakeComponents(opts);

  // Inverse tables: LDM name -> (component, pair).
  std::unordered_map<std::string_view, std::pair<Component*, const DiffusersNamePair*>> by_ldm;
  for (Component& c : components) {
    for (const DiffusersNamePair& p : c.table) by_ldm.emplace(p.ldm, std::make_pair(&c, &p));
  }
  for (const NamedTensor& nt : ldm_tensors) {
    auto it = by_ldm.find(nt.name);
    if (it == by_ldm.end()) return InternalError("no diffusers name for LDM tensor '" + nt.name + "'");
    auto [c, p] = it->second;
    Tensor t = nt.tensor;
    if (p->linear_as_conv1x1 && t.rank() == 4) t = t.Reshaped({t.dim(0), t.dim(1)});  // [C, C, 1, 1] -> [C, C]
    c->tensors.push_back({p->diffusers, std::move(t)});
  }

  json model_index = {{"_class_name", opts.class_name}, {"_diffusers_version", "0.21.0"}};
  for (Component& c : components) {
    auto extra = opts.extra_tensors.find(c.folder);
    if (extra != opts.extra_tensors.end()) {
      c.tensors.insert(c.tensors.end(), extra->second.begin(), extra->second.end());
    }
    if (c.tensors.empty()) continue;
    const fs::path folder = fs::path(dir) / c.folder;
    fs::create_directories(folder, ec);
    if (ec) return IoError("cannot create '" + folder.string() + "': " + ec.message());
    if (opts.write_configs) SDR_RETURN_IF_ERROR(WriteJson(folder / "config.json", c.config));
    SDR_RETURN_IF_ERROR(WriteWeights(folder, c, opts));
    model_index[c.folder] = {c.folder == "text_encoder" ? "transformers" : "diffusers",
                             c.folder == "text_encoder" ? "CLIPTextModel"
                             : c.folder == "unet"       ? "UNet2DConditionModel"
                                                        : "AutoencoderKL"};
  }
  if (opts.write_tokenizer) {
    fs::create_directories(fs::path(dir) / "tokenizer", ec);
    if (ec) return IoError("cannot create tokenizer folder in '" + dir + "': " + ec.message());
    model_index["tokenizer"] = {"transformers", "CLIPTokenizer"};
  }
  if (opts.write_model_index) SDR_RETURN_IF_ERROR(WriteJson(fs::path(dir) / "model_index.json", model_index));
  return Status::Ok();
}

}  // namespace sdr::testing
