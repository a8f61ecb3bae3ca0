// Reading diffusers folders (format in formats/diffusers.h).
//
// Per component (unet/, text_encoder/, vae/): pick its weights file, read it under its own
// (diffusers) names, work out the component's topology from its config.json (or, for the fields
// config.json lacks, from the names present), generate the name table for that topology
// (formats/diffusers_names.h) and add every tensor under the LDM name the table gives it.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/mapped_file.h"
#include "formats/ckpt.h"
#include "formats/diffusers.h"
#include "formats/diffusers_names.h"
#include "formats/safetensors.h"

namespace sdr {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Bounds on topology numbers read from config.json or names, so that a hostile file cannot make
// the generated tables huge (at these bounds a UNet table has ~45k entries, a few MB). Real
// models: <= 4 levels, <= 3 layers per block, <= 10 transformer blocks, <= 32 text layers.
constexpr int kMaxLevels = 6;
constexpr int kMaxLayersPerBlock = 8;
constexpr int kMaxTransformerDepth = 16;
constexpr int kMaxTextLayers = 128;
constexpr uint64_t kMaxJsonBytes = 4u << 20;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool Exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// "'path'" for messages (built by appending: GCC 12 warns falsely on "'" + std::string).
std::string Quoted(const fs::path& p) {
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// ---- JSON files ---------------------------------------------------------------------------

// nullopt when the file is absent; CorruptData naming the file when it is not a JSON object.
Result<std::optional<json>> ReadJsonObjectIfPresent(const fs::path& path) {
  if (!Exists(path)) return std::optional<json>();
  SDR_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path.string(), kMaxJsonBytes));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return CorruptData(Quoted(path) + " is not valid JSON");
  if (!j.is_object()) return CorruptData(Quoted(path) + " is not a JSON object");
  return std::optional<json>(std::move(j));
}

// Reads config[key] as an integer in [lo, hi]; nullopt when absent or null.
Result<std::optional<int>> ConfigInt(const json& config, const char* key, int lo, int hi, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer()) return CorruptData(where + ": '" + key + "' is not an integer");
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    return Unsupported(where + ": '" + key + "' = " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                       ", " + std::to_string(hi) + "]");
  }
  return std::optional<int>(static_cast<int>(v));
}

// config[key] as `levels` integers in [lo, hi]: an int (repeated) or an array of `levels` ints.
Result<std::optional<std::vector<int>>> ConfigIntPerLevel(const json& config, const char* key, int levels, int lo,
                                                         int hi, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::vector<int>>();
  if (it->is_number_integer()) {
    SDR_ASSIGN_OR_RETURN(std::optional<int> v, ConfigInt(config, key, lo, hi, where));
    return std::optional<std::vector<int>>(std::vector<int>(levels, *v));
  }
  if (!it->is_array() || it->size() != static_cast<size_t>(levels)) {
    return CorruptData(where + ": '" + key + "' is neither an integer nor an array of " + std::to_string(levels));
  }
  std::vector<int> out;
  for (const json& e : *it) {
    if (!e.is_number_integer() || e.get<int64_t>() < lo || e.get<int64_t>() > hi) {
      return Unsupported(where + ": '" + key + "' holds " + e.dump() + ", not an integer in [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
    }
    out.push_back(static_cast<int>(e.get<int64_t>()));
  }
  return std::optional<std::vector<int>>(std::move(out));
}

// config[key] as `levels` block-type strings, each mapped to "has attention" through `kinds`.
Result<std::optional<std::vector<bool>>> ConfigBlockTypes(const json& config, const char* key, int levels,
                                                          const std::vector<std::pair<std::string, bool>>& kinds,
                                                          const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::vector<bool>>();
  if (!it->is_array() || it->size() != static_cast<size_t>(levels)) {
    return CorruptData(where + ": '" + key + "' is not an array of " + std::to_string(levels) +
                       " block types (one per block_out_channels entry)");
  }
  std::vector<bool> out;
  for (const json& e : *it) {
    if (!e.is_string()) return CorruptData(where + ": '" + key + "' holds a non-string " + e.dump());
    const std::string type = e.get<std::string>();
    auto k = std::find_if(kinds.begin(), kinds.end(), [&](const auto& kv) { return kv.first == type; });
    if (k == kinds.end()) return Unsupported(where + ": block type '" + type + "' in '" + key + "' is not supported");
    out.push_back(k->second);
  }
  return std::optional<std::vector<bool>>(std::move(out));
}

// Number of levels from config[key] (an array, e.g. block_out_channels); nullopt when absent.
Result<std::optional<int>> ConfigLevels(const json& config, const char* key, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<int>();
  if (!it->is_array() || it->empty() || it->size() > static_cast<size_t>(kMaxLevels)) {
    return Unsupported(where + ": '" + key + "' is not an array of 1.." + std::to_string(kMaxLevels) + " widths");
  }
  return std::optional<int>(static_cast<int>(it->size()));
}

// ---- topology from names (for whatever config.json does not say) ---------------------------

// N when `name` is prefix + "N." + ..., else nullopt. Discovery only: the integers found size
// the table; names are then looked up in it.
std::optional<int> IndexAfter(std::string_view name, std::string_view prefix) {
  if (!StartsWith(name, prefix)) return std::nullopt;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  int v = 0;
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr == first || ptr == last || *ptr != '.' || v < 0) return std::nullopt;
  return std::min(v, 1 << 20);  // far past every bound below, and +1 cannot overflow
}

// The largest IndexAfter(name, prefix) over `names`, or -1 when none.
int MaxIndexAfter(const std::vector<std::string>& names, std::string_view prefix) {
  int best = -1;
  for (const std::string& n : names) best = std::max(best, IndexAfter(n, prefix).value_or(-1));
  return best;
}

// As MaxIndexAfter for names prefix + <any level> + "." + middle + "N.".
int MaxIndexAcrossLevels(const std::vector<std::string>& names, const std::string& prefix, int levels,
                         const std::string& middle) {
  int best = -1;
  for (int i = 0; i < levels; ++i) best = std::max(best, MaxIndexAfter(names, prefix + std::to_string(i) + "." + middle));
  return best;
}

bool AnyStartsWith(const std::vector<std::string>& names, const std::string& prefix) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return StartsWith(n, prefix); });
}

Status CheckRange(int v, int lo, int hi, const std::string& what, const std::string& where) {
  if (v < lo || v > hi) {
    return Unsupported(where + ": the tensor names imply " + what + " = " + std::to_string(v) + ", outside [" +
                       std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Status::Ok();
}

Result<DiffusersUnetTopology> UnetTopology(const std::optional<json>& config, const std::vector<std::string>& names,
                                           const std::string& where) {
  const json empty = json::object();
  const json& c = config ? *config : empty;
  DiffusersUnetTopology t;
  SDR_ASSIGN_OR_RETURN(std::optional<int> levels, ConfigLevels(c, "block_out_channels", where));
  t.levels = levels ? *levels
                    : std::max({MaxIndexAfter(names, "down_blocks."), MaxIndexAfter(names, "up_blocks."), 0}) + 1;
  SDR_RETURN_IF_ERROR(CheckRange(t.levels, 1, kMaxLevels, "levels", where));
  const int n = t.levels;

  SDR_ASSIGN_OR_RETURN(std::optional<int> layers, ConfigInt(c, "layers_per_block", 1, kMaxLayersPerBlock, where));
  t.layers_per_block = layers ? *layers
                              : std::max({MaxIndexAcrossLevels(names, "down_blocks.", n, "resnets.") + 1,
                                          MaxIndexAcrossLevels(names, "up_blocks.", n, "resnets."), 1});
  SDR_RETURN_IF_ERROR(CheckRange(t.layers_per_block, 1, kMaxLayersPerBlock, "layers_per_block", where));

  SDR_ASSIGN_OR_RETURN(std::optional<std::vector<bool>> down,
                       ConfigBlockTypes(c, "down_block_types", n,
                                        {{"CrossAttnDownBlock2D", true}, {"DownBlock2D", false}}, where));
  SDR_ASSIGN_OR_RETURN(std::optional<std::vector<bool>> up,
                       ConfigBlockTypes(c, "up_block_types", n,
                                        {{"CrossAttnUpBlock2D", true}, {"UpBlock2D", false}}, where));
  t.down_attention.assign(n, false);
  t.up_attention.assign(n, false);
  for (int i = 0; i < n; ++i) {
    const std::string s = std::to_string(i);
    t.down_attention[i] = down ? (*down)[i] : AnyStartsWith(names, "down_blocks." + s + ".attentions.");
    // Without up_block_types, up levels mirror the down levels (diffusers' own default).
    t.up_attention[i] = up     ? (*up)[i]
                        : down ? (*down)[n - 1 - i]
                               : AnyStartsWith(names, "up_blocks." + s + ".attentions.");
  }

  auto mid = c.find("mid_block_type");
  if (mid != c.end() && !mid->is_null()) {
    if (!mid->is_string()) return CorruptData(where + ": 'mid_block_type' is not a string");
    const std::string type = mid->get<std::string>();
    if (type == "UNetMidBlock2DCrossAttn") {
      t.mid_attention = true;
    } else if (type == "UNetMidBlock2D") {
      t.mid_attention = false;
    } else {
      return Unsupported(where + ": mid_block_type '" + type + "' is not supported");
    }
  } else if (mid != c.end()) {
    t.mid_attention = false;  // explicit null: no mid block; its tensors are then unknown
  } else {
    // diffusers' default is the cross-attention mid block.
    t.mid_attention = config ? true : AnyStartsWith(names, "mid_block.attentions.");
  }

  SDR_ASSIGN_OR_RETURN(std::optional<std::vector<int>> depth,
                       ConfigIntPerLevel(c, "transformer_layers_per_block", n, 1, kMaxTransformerDepth, where));
  if (depth) {
    t.transformer_depth = *depth;
  } else if (config) {
    t.transformer_depth.assign(n, 1);  // diffusers' default
  } else {
    // Every transformer_blocks.K present, at any level; the table is then a superset.
    int k = -1;
    for (const std::string& name : names) {
      const size_t pos = name.find(".transformer_blocks.");
      if (pos != std::string::npos) {
        k = std::max(k, IndexAfter(std::string_view(name).substr(pos + 1), "transformer_blocks.").value_or(-1));
      }
    }
    SDR_RETURN_IF_ERROR(CheckRange(k + 1, 0, kMaxTransformerDepth, "transformer depth", where));
    t.transformer_depth.assign(n, std::max(k + 1, 1));
  }
  return t;
}

Result<DiffusersVaeTopology> VaeTopology(const std::optional<json>& config, const std::vector<std::string>& names,
                                         const std::string& where) {
  const json empty = json::object();
  const json& c = config ? *config : empty;
  DiffusersVaeTopology t;
  SDR_ASSIGN_OR_RETURN(std::optional<int> levels, ConfigLevels(c, "block_out_channels", where));
  t.levels = levels ? *levels
                    : std::max({MaxIndexAfter(names, "encoder.down_blocks."),
                                MaxIndexAfter(names, "decoder.up_blocks."), 0}) + 1;
  SDR_RETURN_IF_ERROR(CheckRange(t.levels, 1, kMaxLevels, "levels", where));
  SDR_ASSIGN_OR_RETURN(std::optional<int> layers, ConfigInt(c, "layers_per_block", 1, kMaxLayersPerBlock, where));
  t.layers_per_block =
      layers ? *layers
             : std::max({MaxIndexAcrossLevels(names, "encoder.down_blocks.", t.levels, "resnets.") + 1,
                         MaxIndexAcrossLevels(names, "decoder.up_blocks.", t.levels, "resnets."), 1});
  SDR_RETURN_IF_ERROR(CheckRange(t.layers_per_block, 1, kMaxLayersPerBlock, "layers_per_block", where));
  for (const char* coder : {"encoder", "decoder"}) {
    for (const char* old : {"query.", "key.", "value.", "proj_attn."}) {
      if (AnyStartsWith(names, std::string(coder) + ".mid_block.attentions.0." + old)) t.legacy_attention_names = true;
    }
  }
  return t;
}

Result<DiffusersTextEncoderTopology> TextEncoderTopology(const std::optional<json>& config,
                                                         const std::vector<std::string>& names,
                                                         const std::string& where) {
  DiffusersTextEncoderTopology t;
  std::optional<int> layers;
  if (config) {
    SDR_ASSIGN_OR_RETURN(layers, ConfigInt(*config, "num_hidden_layers", 0, kMaxTextLayers, where));
  }
  t.layers = layers ? *layers : MaxIndexAfter(names, "text_model.encoder.layers.") + 1;
  SDR_RETURN_IF_ERROR(CheckRange(t.layers, 0, kMaxTextLayers, "num_hidden_layers", where));
  return t;
}

// ---- weights files ------------------------------------------------------------------------

enum class WeightsKind { kSafetensors, kSafetensorsSharded, kTorch };

struct WeightsFile {
  fs::path path;
  WeightsKind kind;
};

// In order of preference: safetensors over torch pickles, full precision over the fp16 variant.
// diffusers models use diffusion_pytorch_model.*, transformers models (the text encoder) model.*
// and pytorch_model.bin.
constexpr std::pair<const char*, WeightsKind> kWeightsFiles[] = {
    {"diffusion_pytorch_model.safetensors", WeightsKind::kSafetensors},
    {"model.safetensors", WeightsKind::kSafetensors},
    {"diffusion_pytorch_model.safetensors.index.json", WeightsKind::kSafetensorsSharded},
    {"model.safetensors.index.json", WeightsKind::kSafetensorsSharded},
    {"diffusion_pytorch_model.fp16.safetensors", WeightsKind::kSafetensors},
    {"model.fp16.safetensors", WeightsKind::kSafetensors},
    {"diffusion_pytorch_model.safetensors.index.fp16.json", WeightsKind::kSafetensorsSharded},
    {"model.safetensors.index.fp16.json", WeightsKind::kSafetensorsSharded},
    {"diffusion_pytorch_model.bin", WeightsKind::kTorch},
    {"pytorch_model.bin", WeightsKind::kTorch},
    {"diffusion_pytorch_model.fp16.bin", WeightsKind::kTorch},
    {"pytorch_model.fp16.bin", WeightsKind::kTorch},
};

Result<WeightsFile> FindWeightsFile(const fs::path& folder) {
  for (const auto& [name, kind] : kWeightsFiles) {
    if (IsFile(folder / name)) return WeightsFile{folder / name, kind};
  }
  return NotFound("folder " + Quoted(folder) +
                  " holds no weights file (expected diffusion_pytorch_model[.fp16].safetensors, "
                  "model[.fp16].safetensors, a *.safetensors.index.json, or a *.bin)");
}

Status ReadWeightsFile(const WeightsFile& w, TensorIndex* raw) {
  switch (w.kind) {
    case WeightsKind::kSafetensors: return ReadSafetensors(w.path.string(), raw);
    case WeightsKind::kSafetensorsSharded: return ReadSafetensorsSharded(w.path.string(), raw);
    case WeightsKind::kTorch: return ReadCkpt(w.path.string(), raw);
  }
  return InternalError("unhandled weights kind");
}

// ---- components ---------------------------------------------------------------------------

enum class ComponentKind { kUnet, kTextEncoder, kVae };

struct ComponentSpec {
  ComponentKind kind;
  const char* folder;
};

constexpr ComponentSpec kComponents[] = {
    {ComponentKind::kUnet, "unet"},
    {ComponentKind::kTextEncoder, "text_encoder"},
    {ComponentKind::kVae, "vae"},
};

Result<std::vector<DiffusersNamePair>> ComponentTable(ComponentKind kind, const std::optional<json>& config,
                                                      const std::vector<std::string>& names,
                                                      const std::string& where) {
  switch (kind) {
    case ComponentKind::kUnet: {
      SDR_ASSIGN_OR_RETURN(DiffusersUnetTopology t, UnetTopology(config, names, where));
      return DiffusersUnetNames(t);
    }
    case ComponentKind::kTextEncoder: {
      SDR_ASSIGN_OR_RETURN(DiffusersTextEncoderTopology t, TextEncoderTopology(config, names, where));
      return DiffusersTextEncoderNames(t);
    }
    case ComponentKind::kVae: {
      SDR_ASSIGN_OR_RETURN(DiffusersVaeTopology t, VaeTopology(config, names, where));
      return DiffusersVaeNames(t);
    }
  }
  return InternalError("unhandled component kind");
}

// A diffusers Linear weight [C, C] as the LDM 1x1 conv [C, C, 1, 1] (a view, no copy).
Result<Tensor> AsConv1x1(const Tensor& t, const std::string& name) {
  const Shape& s = t.shape();
  if (s.size() == 2) return t.Reshaped({s[0], s[1], 1, 1});
  if (s.size() == 4 && s[2] == 1 && s[3] == 1) return t;
  return CorruptData("tensor '" + name + "' has shape " + ShapeToString(s) +
                     ", expected a linear [out, in] or 1x1 conv [out, in, 1, 1] weight");
}

// Reads one component folder into `index`; nothing when the folder is absent.
Status ReadComponent(const fs::path& dir, const ComponentSpec& spec, TensorIndex* index, bool* present) {
  const fs::path folder = dir / spec.folder;
  *present = false;
  if (!Exists(folder)) return Status::Ok();
  if (!IsDir(folder)) return CorruptData(Quoted(folder) + " is not a folder");
  *present = true;
  SDR_ASSIGN_OR_RETURN(WeightsFile weights, FindWeightsFile(folder));
  const std::string where = Quoted(weights.path);

  TensorIndex raw;  // diffusers names
  SDR_RETURN_IF_ERROR(ReadWeightsFile(weights, &raw));
  std::vector<std::string> names;
  names.reserve(raw.size());
  for (const TensorEntry& e : raw.entries()) names.push_back(e.name);

  const fs::path config_path = folder / "config.json";
  SDR_ASSIGN_OR_RETURN(std::optional<json> config, ReadJsonObjectIfPresent(config_path));
  SDR_ASSIGN_OR_RETURN(std::vector<DiffusersNamePair> table,
                       ComponentTable(spec.kind, config, names, config ? Quoted(config_path) : where));
  std::unordered_map<std::string_view, const DiffusersNamePair*> by_diffusers_name;
  by_diffusers_name.reserve(table.size());
  for (const DiffusersNamePair& p : table) {
    const bool inserted = by_diffusers_name.emplace(p.diffusers, &p).second;
    SDR_CHECK(inserted);  // a table lists each diffusers name once
  }

  for (const TensorEntry& e : raw.entries()) {
    auto it = by_diffusers_name.find(e.name);
    if (it == by_diffusers_name.end()) {
      return Unsupported("tensor '" + e.name + "' in " + where + " is not part of the " + spec.folder +
                         " topology (no LDM name for it)");
    }
    const DiffusersNamePair& p = *it->second;
    Tensor t = e.tensor;
    if (p.linear_as_conv1x1) {
      SDR_ASSIGN_OR_RETURN(t, AsConv1x1(e.tensor, e.name));
    }
    SDR_RETURN_IF_ERROR(index->Add(p.ldm, std::move(t)).WithContext(where));
  }
  index->ignored_tensors += raw.ignored_tensors;
  for (const auto& [k, v] : raw.metadata) index->metadata[std::string(spec.folder) + "." + k] = v;
  return Status::Ok();
}

Status ReadModelIndex(const fs::path& dir, TensorIndex* index) {
  const fs::path path = dir / "model_index.json";
  SDR_ASSIGN_OR_RETURN(std::optional<json> j, ReadJsonObjectIfPresent(path));
  if (!j) return Status::Ok();
  for (const auto& [key, meta] : {std::pair{"_class_name", "diffusers_class"},
                                  std::pair{"_diffusers_version", "diffusers_version"}}) {
    auto it = j->find(key);
    if (it == j->end()) continue;
    if (!it->is_string()) return CorruptData(Quoted(path) + ": '" + key + "' is not a string");
    index->metadata[meta] = it->get<std::string>();
  }
  return Status::Ok();
}

Status ReadDiffusersImpl(const std::string& dir_str, TensorIndex* index) {
  const fs::path dir(dir_str);
  if (!IsDir(dir)) return NotFound(Quoted(dir) + " is not a folder");
  SDR_RETURN_IF_ERROR(ReadModelIndex(dir, index));
  int components = 0;
  for (const ComponentSpec& spec : kComponents) {
    bool present = false;
    SDR_RETURN_IF_ERROR(ReadComponent(dir, spec, index, &present));
    components += present ? 1 : 0;
  }
  if (components == 0) return NotFound("no unet/, text_encoder/ or vae/ folder in " + Quoted(dir));
  if (IsDir(dir / "tokenizer")) index->metadata["diffusers_tokenizer_dir"] = (dir / "tokenizer").string();
  index->format = ModelFormat::kDiffusers;
  return Status::Ok();
}

}  // namespace

bool IsDiffusersFolder(const std::string& path) {
  const fs::path dir(path);
  return IsDir(dir) && (IsFile(dir / "model_index.json") || IsFile(dir / "unet" / "config.json"));
}

Status ReadDiffusers(const std::string& dir, TensorIndex* index) {
  return ReadDiffusersImpl(dir, index).WithContext("reading diffusers folder '" + dir + "'");
}

}  // namespace sdr
