// sdr make-test-model OUT: a random-weight SD 1.x model with the real topology and names.
// --inpainting writes a 9-input-channel UNet; sdr make-test-lora / make-test-taesd write the random
// LoRA (both key forms) and TAESD decoder files the tests and benchmarks use.
#include <cstdio>
#include <string>

#include "apps/cli/commands.h"
#include "apps/cli/write_model.h"
#include "formats/model_file.h"
#include "formats/safetensors.h"
#include "models/lora/random_lora.h"
#include "models/random_weights.h"

namespace sdr::cli {
namespace {

struct MakeOptions {
  std::string out;
  std::string dtype = "f32";
  uint64_t seed = 1234;
  bool full = false;  // SD 1.5 widths instead of the tiny ones
  int model_channels = 0;
  bool inpainting = false;  // 9 UNet input channels
};

struct LoraOptions {
  std::string out, model, form = "kohya";
  int rank = 4;
  uint64_t seed = 99;
};

Status RunMakeLora(const LoraOptions& o) {
  SDR_ASSIGN_OR_RETURN(TensorIndex model, OpenModelFile(o.model));
  if (o.form != "kohya" && o.form != "diffusers") return InvalidArgument("--form must be kohya or diffusers");
  if (o.rank < 1 || o.rank > 256) return InvalidArgument("--rank must be in [1, 256]");
  RandomLoraOptions r;
  r.form = o.form == "kohya" ? LoraForm::kKohya : LoraForm::kDiffusers;
  r.rank = o.rank;
  r.seed = o.seed;
  SDR_ASSIGN_OR_RETURN(std::vector<NamedTensor> tensors, MakeRandomLora(model, r));
  SDR_RETURN_IF_ERROR(WriteSafetensors(o.out, tensors, {{"generator", "sdr make-test-lora"}}));
  std::printf("wrote %s: %zu tensors (%s form)\n", o.out.c_str(), tensors.size(), o.form.c_str());
  return Status::Ok();
}

Status RunMakeTaesd(const std::string& out, uint64_t seed) {
  SDR_ASSIGN_OR_RETURN(std::vector<NamedTensor> tensors, MakeRandomTaesdDecoder(seed));
  SDR_RETURN_IF_ERROR(WriteSafetensors(out, tensors, {{"generator", "sdr make-test-taesd"}}));
  std::printf("wrote %s: %zu tensors\n", out.c_str(), tensors.size());
  return Status::Ok();
}

Status RunMake(const MakeOptions& o) {
  RandomModelOptions r;
  if (o.full) r.layout = Sd1LayoutOptions{};
  if (o.model_channels > 0) {
    if (o.model_channels % 32 != 0) return InvalidArgument("--model-channels must be a multiple of 32");
    r.layout.unet_model_channels = o.model_channels;
  }
  if (o.inpainting) r.layout.unet_in_channels = 9;
  r.seed = o.seed;
  auto dtype = ParseDType(o.dtype);
  if (!dtype) return InvalidArgument("unknown --dtype '" + o.dtype + "'");
  r.dtype = *dtype;
  SDR_ASSIGN_OR_RETURN(std::vector<NamedTensor> tensors, MakeRandomSd1Weights(r));
  SDR_RETURN_IF_ERROR(WriteModelByExtension(
      o.out, tensors, {{"generator", "sdr make-test-model"}, {"seed", std::to_string(o.seed)}}));
  std::printf("wrote %s: %zu tensors\n", o.out.c_str(), tensors.size());
  return Status::Ok();
}

}  // namespace

Command RegisterMakeTestModel(CLI::App& app) {
  auto opts = std::make_shared<MakeOptions>();
  CLI::App* sub = app.add_subcommand("make-test-model", "Write a random-weight SD 1.x model for tests");
  sub->add_option("out", opts->out, "output file (.safetensors, .ckpt, .pt, .gguf)")->required();
  sub->add_option("--dtype", opts->dtype, "f32, f16, bf16, q8_0, q4_0, ...")->capture_default_str();
  sub->add_option("--seed", opts->seed, "random seed")->capture_default_str();
  sub->add_flag("--full", opts->full, "SD 1.5 widths (4.3 GB as f32) instead of tiny ones");
  sub->add_option("--model-channels", opts->model_channels, "UNet width (multiple of 32)");
  sub->add_flag("--inpainting", opts->inpainting, "an inpainting UNet (9 input channels)");
  return {sub, [opts] { return RunMake(*opts); }};
}

Command RegisterMakeTestLora(CLI::App& app) {
  auto opts = std::make_shared<LoraOptions>();
  CLI::App* sub = app.add_subcommand("make-test-lora", "Write a random LoRA (.safetensors) for a model, for tests");
  sub->add_option("out", opts->out, "output .safetensors")->required();
  sub->add_option("--model", opts->model, "the model it is for (widths are read from it)")->required();
  sub->add_option("--form", opts->form, "key form: kohya or diffusers")->capture_default_str();
  sub->add_option("--rank", opts->rank, "LoRA rank")->capture_default_str();
  sub->add_option("--seed", opts->seed, "random seed")->capture_default_str();
  return {sub, [opts] { return RunMakeLora(*opts); }};
}

Command RegisterMakeTestTaesd(CLI::App& app) {
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(7);
  CLI::App* sub = app.add_subcommand("make-test-taesd", "Write a random TAESD decoder (.safetensors), for tests");
  sub->add_option("out", *out, "output .safetensors")->required();
  sub->add_option("--seed", *seed, "random seed")->capture_default_str();
  return {sub, [out, seed] { return RunMakeTaesd(*out, *seed); }};
}

}  // namespace sdr::cli
