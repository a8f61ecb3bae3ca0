// sdr make-test-model OUT: a random-weight SD 1.x model with the real topology and names.
#include <cstdio>
#include <string>

#include "apps/cli/commands.h"
#include "apps/cli/write_model.h"
#include "models/random_weights.h"

namespace sdr::cli {
namespace {

struct MakeOptions {
  std::string out;
  std::string dtype = "f32";
  uint64_t seed = 1234;
  bool full = false;  // SD 1.5 widths instead of the tiny ones
  int model_channels = 0;
};

Status RunMake(const MakeOptions& o) {
  RandomModelOptions r;
  if (o.full) r.layout = Sd1LayoutOptions{};
  if (o.model_channels > 0) {
    if (o.model_channels % 32 != 0) return InvalidArgument("--model-channels must be a multiple of 32");
    r.layout.unet_model_channels = o.model_channels;
  }
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
  return {sub, [opts] { return RunMake(*opts); }};
}

}  // namespace sdr::cli
