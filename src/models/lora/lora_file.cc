#include "models/lora/lora_file.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "formats/diffusers_names.h"
#include "formats/safetensors.h"

namespace sdr {
namespace {

std::string Underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

std::string WithoutSuffix(const std::string& s, std::string_view suffix) { return s.substr(0, s.size() - suffix.size()); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Every module key a LoRA file may use -> the LDM weight it changes (built once).
const std::unordered_map<std::string, std::string>& ModuleTable() {
  static const std::unordered_map<std::string, std::string> table = [] {
    std::unordered_map<std::string, std::string> t;
    for (const DiffusersNamePair& p : DiffusersUnetNames({})) {
      if (!EndsWith(p.diffusers, ".weight")) continue;
      const std::string module = WithoutSuffix(p.diffusers, ".weight");
      t["lora_unet_" + Underscored(module)] = p.ldm;
      t["unet." + module] = p.ldm;
      const std::string ldm_module = WithoutSuffix(p.ldm.substr(std::string(kLdmUnetPrefix).size()), ".weight");
      t.emplace("lora_unet_" + Underscored(ldm_module), p.ldm);
    }
    for (const DiffusersNamePair& p : DiffusersTextEncoderNames({})) {
      if (!EndsWith(p.diffusers, ".weight")) continue;
      const std::string module = WithoutSuffix(p.diffusers, ".weight");
      t["lora_te_" + Underscored(module)] = p.ldm;
      t["text_encoder." + module] = p.ldm;
    }
    return t;
  }();
  return table;
}

struct Parts {
  const Tensor* down = nullptr;
  const Tensor* up = nullptr;
  const Tensor* alpha = nullptr;
  bool kohya = false;
};

// name -> (module key, which part); false when the name is no LoRA part.
bool SplitKey(const std::string& name, std::string* module, int* part, bool* kohya) {
  struct Suffix {
    std::string_view s;
    int part;  // 0 down, 1 up, 2 alpha
    bool kohya;
  };
  static constexpr Suffix kSuffixes[] = {
      {".lora_down.weight", 0, true}, {".lora_up.weight", 1, true}, {".lora_A.weight", 0, false},
      {".lora_B.weight", 1, false},   {".lora.down.weight", 0, false}, {".lora.up.weight", 1, false},
      {".alpha", 2, true},
  };
  for (const Suffix& s : kSuffixes) {
    if (EndsWith(name, s.s)) {
      *module = WithoutSuffix(name, s.s);
      *part = s.part;
      *kohya = s.kohya && module->rfind("lora_", 0) == 0;
      return true;
    }
  }
  return false;
}

Result<float> ScalarOf(const Tensor& t, const std::string& key) {
  if (t.numel() != 1) return InvalidArgument("LoRA '" + key + ".alpha' must be a scalar");
  SDR_ASSIGN_OR_RETURN(Tensor f, ToF32(t));
  return f.data<float>()[0];
}

}  // namespace

Result<LoraFile> ReadLoraFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("LoRA file '" + path + "' does not exist");
  TensorIndex index;
  SDR_RETURN_IF_ERROR(ReadSafetensorsAllNames(path, &index));
  LoraFile file;
  file.path = path;
  std::map<std::string, Parts> modules;  // ordered: deterministic layer order
  bool any_kohya = false;
  for (const TensorEntry& e : index.entries()) {
    const std::string& name = e.name;
    std::string module;
    int part = 0;
    bool kohya = false;
    if (!SplitKey(name, &module, &part, &kohya)) {
      file.unknown_keys.push_back(name);
      continue;
    }
    Parts& p = modules[module];
    (part == 0 ? p.down : part == 1 ? p.up : p.alpha) = &e.tensor;
    p.kohya = p.kohya || kohya;
    any_kohya = any_kohya || module.rfind("lora_", 0) == 0;
  }
  file.form = any_kohya ? "kohya" : "diffusers";
  const auto& table = ModuleTable();
  for (const auto& [module, p] : modules) {
    const auto it = table.find(module);
    if (it == table.end()) {
      file.unknown_keys.push_back(module);
      continue;
    }
    if (p.down == nullptr || p.up == nullptr) {
      return InvalidArgument("LoRA '" + path + "': layer '" + module + "' has no " +
                             (p.down == nullptr ? "down (lora_down / lora_A)" : "up (lora_up / lora_B)") + " weight");
    }
    LoraLayer l;
    l.key = module;
    l.target = it->second;
    SDR_ASSIGN_OR_RETURN(l.down, ToF32(*p.down));
    SDR_ASSIGN_OR_RETURN(l.up, ToF32(*p.up));
    if (l.down.rank() < 2 || l.up.rank() < 2 || l.up.dim(1) != l.down.dim(0) ||
        (l.up.rank() == 4 && (l.up.dim(2) != 1 || l.up.dim(3) != 1))) {
      return InvalidArgument("LoRA '" + path + "': layer '" + module + "' has up " + ShapeToString(l.up.shape()) +
                             " and down " + ShapeToString(l.down.shape()) + ", which do not chain");
    }
    if (p.alpha != nullptr) {
      SDR_ASSIGN_OR_RETURN(l.alpha, ScalarOf(*p.alpha, module));
    } else {
      l.alpha = static_cast<float>(l.rank());
    }
    file.layers.push_back(std::move(l));
  }
  if (file.layers.empty()) {
    return InvalidArgument("'" + path + "' holds no LoRA layer of an SD 1.x model (" +
                           std::to_string(file.unknown_keys.size()) + " unrecognised tensors)");
  }
  return file;
}

}  // namespace sdr
