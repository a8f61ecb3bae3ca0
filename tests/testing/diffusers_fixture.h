// Test fixtures for diffusers folders: writes model_index.json, unet/, text_encoder/, vae/ (and an
// empty tokenizer/) from a list of LDM-named tensors by inverting the name tables of
// formats/diffusers_names.h, so tests can check that ReadDiffusers gives the tensors back.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "formats/tensor_index.h"
#include "models/sd1_layout.h"

namespace sdr::testing {

struct DiffusersFixtureOptions {
  // The SD 1.x widths the tensors were made with (written into the config.json files).
  Sd1LayoutOptions layout = TinySd1LayoutOptions();
  bool write_model_index = true;
  std::string class_name = "StableDiffusionPipeline";  // model_index.json _class_name
  bool write_configs = true;    // unet/, vae/, text_encoder/ config.json
  bool write_tokenizer = true;  // an empty tokenizer/ folder
  bool legacy_vae_attention_names = false;  // query/key/value/proj_attn instead of to_q/...
  int unet_shards = 1;          // > 1: sharded safetensors with an index JSON
  bool fp16_variant_names = false;  // *.fp16.safetensors file names (dtype as given)
  bool torch_bin = false;       // *.bin (torch zip via WriteCkpt) instead of safetensors
  // Extra tensors under diffusers names, by component folder ("unet", "vae", "text_encoder").
  std::map<std::string, std::vector<NamedTensor>> extra_tensors;
};

// Random values (uniform in [-1, 1), deterministic per seed) for every tensor of
// Sd1Layout(layout), in `dtype` (f32, f16 or bf16).
std::vector<NamedTensor> RandomSd1Tensors(const Sd1LayoutOptions& layout, DType dtype, uint32_t seed);

// Writes a diffusers folder at `dir` (created if needed) holding `ldm_tensors`. Components with
// no tensor are not written. InternalError for a name the tables do not know (a test bug).
Status WriteDiffusersFolder(const std::string& dir, const std::vector<NamedTensor>& ldm_tensors,
                            const DiffusersFixtureOptions& opts = {});

}  // namespace sdr::testing
