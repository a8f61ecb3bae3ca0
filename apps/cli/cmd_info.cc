// sdr info MODEL [--json]: what a model file holds, and how long opening it took.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/cli/commands.h"
#include "apps/cli/config_flags.h"
#include "formats/model_file.h"
#include "models/clip/tokenizer_source.h"
#include "models/model_info.h"
#include "runtime/config.h"
#include "runtime/errors.h"
#include "runtime/system_info.h"

namespace sdr::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
  bool system = false;
  std::unique_ptr<ConfigFlags> config_flags;  // --tokenizer
};

nlohmann::ordered_json CudaJson(const SystemInfo& s) {
  nlohmann::ordered_json gpus = nlohmann::ordered_json::array();
  for (const GpuInfo& g : s.gpus) {
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                    {"multiprocessors", g.multiprocessors},
                    {"vram_total_bytes", g.total_bytes},
                    {"vram_free_bytes", g.free_bytes}});
  }
  return {{"available", s.cuda_available},
          {"reason", s.cuda_reason},
          {"driver_version", s.cuda_driver_version},
          {"runtime_version", s.cuda_runtime_version},
          {"architectures", s.cuda_architectures},
          {"libraries", s.cuda_libraries},
          {"gpus", gpus},
          {"suggested_max_concurrent", s.suggested_max_concurrent}};
}

Status PrintSystem(bool json) {
  const SystemInfo s = GetSystemInfo();
  if (!json) {
    std::printf("%s", FormatSystemInfo(s).c_str());
    return Status::Ok();
  }
  nlohmann::ordered_json j = {{"version", s.version},
                              {"cpu", s.cpu_model},
                              {"cpu_features", s.cpu_features},
                              {"physical_cores", s.physical_cores},
                              {"default_threads", s.default_threads},
                              {"math_library", s.math_library},
                              {"blas_threads", s.blas_threads},
                              {"backends", s.backends},
                              {"auto_device", s.auto_device},
                              {"cuda", CudaJson(s)}};
  std::printf("%s\n", j.dump(1).c_str());
  return Status::Ok();
}

std::string WithThousands(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

nlohmann::ordered_json ComponentJson(const ComponentInfo& c) {
  nlohmann::ordered_json dtypes = nlohmann::ordered_json::object();
  for (const auto& [d, n] : c.dtypes) dtypes[std::string(DTypeName(d))] = n;
  return {{"present", c.present}, {"tensors", c.tensors}, {"params", c.params}, {"dtypes", dtypes}};
}

std::string DTypeSummary(const ComponentInfo& c) {
  std::string s;
  for (const auto& [d, n] : c.dtypes) s += (s.empty() ? "" : " ") + std::string(DTypeName(d)) + " x" + std::to_string(n);
  return s;
}

Status RunInfo(const InfoOptions& o) {
  if (o.system) return PrintSystem(o.json);
  if (o.model.empty()) return InvalidArgument("sdr info needs MODEL (or --system)");
  const auto t0 = std::chrono::steady_clock::now();
  auto opened = OpenModelFile(o.model);
  if (!opened.ok()) return TagLoadError(opened.status(), o.model);
  const TensorIndex index = std::move(opened).value();
  auto detected = DetectModel(index);
  if (!detected.ok()) return TagLoadError(detected.status(), o.model);
  const ModelInfo info = *detected;
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SDR_ASSIGN_OR_RETURN(RuntimeConfig config, LoadConfigFromEnv());
  SDR_RETURN_IF_ERROR(o.config_flags->Apply(config));
  const std::string tokenizer = ResolveTokenizerSource(o.model, config.tokenizer_path).Describe();
  if (o.json) {
    nlohmann::ordered_json j = {
        {"path", o.model},
        {"format", std::string(ModelFormatName(index.format))},
        {"version", std::string(SdVersionName(info.version))},
        {"load_seconds", load_s},
        {"tokenizer", tokenizer},
        {"tensors", index.size()},
        {"ignored_tensors", index.ignored_tensors},
        {"other_tensors", info.other_tensors},
        {"components",
         {{"unet", ComponentJson(info.unet)},
          {"text_encoder", ComponentJson(info.text_encoder)},
          {"vae", ComponentJson(info.vae)}}},
        {"widths",
         {{"unet_model_channels", info.unet_model_channels},
          {"unet_context_dim", info.unet_context_dim},
          {"unet_heads", info.unet_heads},
          {"text_hidden", info.text_hidden},
          {"text_layers", info.text_layers},
          {"text_heads", info.text_heads},
          {"text_vocab", info.text_vocab},
          {"vae_channels", info.vae_channels},
          {"vae_encoder", info.vae_encoder},
          {"vae_decoder", info.vae_decoder}}},
    };
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return Status::Ok();
  }
  std::printf("model:    %s\nformat:   %s\nversion:  %s\nload:     %.3f s\ntokenizer: %s\n", o.model.c_str(),
              std::string(ModelFormatName(index.format)).c_str(), std::string(SdVersionName(info.version)).c_str(),
              load_s, tokenizer.c_str());
  const std::pair<const char*, const ComponentInfo*> comps[] = {
      {"unet", &info.unet}, {"text_encoder", &info.text_encoder}, {"vae", &info.vae}};
  for (const auto& [name, c] : comps) {
    if (!c->present) {
      std::printf("%-13s absent\n", name);
      continue;
    }
    std::printf("%-13s %5lld tensors %14s params  %s\n", name, static_cast<long long>(c->tensors),
                WithThousands(c->params).c_str(), DTypeSummary(*c).c_str());
  }
  std::printf("widths:   unet channels %lld, context %lld, heads %lld; text hidden %lld x %lld layers; "
              "vae channels %lld%s\n",
              static_cast<long long>(info.unet_model_channels), static_cast<long long>(info.unet_context_dim),
              static_cast<long long>(info.unet_heads), static_cast<long long>(info.text_hidden),
              static_cast<long long>(info.text_layers), static_cast<long long>(info.vae_channels),
              info.vae_encoder ? " (with encoder)" : "");
  if (index.ignored_tensors || info.other_tensors) {
    std::printf("skipped:  %lld ignored (EMA, schedule buffers, ...), %lld unrecognised\n",
                static_cast<long long>(index.ignored_tensors), static_cast<long long>(info.other_tensors));
  }
  return Status::Ok();
}

}  // namespace

Command RegisterInfo(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Describe a model file: format, SD version, components");
  sub->add_option("model", opts->model, "model file or diffusers folder");
  sub->add_flag("--json", opts->json, "print one JSON object");
  sub->add_flag("--system", opts->system, "describe this machine and build instead: CPU, math library, CUDA");
  opts->config_flags = std::make_unique<ConfigFlags>(sub, std::initializer_list<std::string_view>{"tokenizer_path"});
  return {sub, [opts] { return RunInfo(*opts); }};
}

}  // namespace sdr::cli
