// sdr generate -m MODEL -p PROMPT [...]: text to image, written as PNG with A1111 infotext.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps/cli/commands.h"
#include "apps/cli/progress_bar.h"
#include "backends/cpu/ops.h"
#include "runtime/config.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/infotext.h"
#include "runtime/model_hash_cache.h"
#include "runtime/png_writer.h"
#include "runtime/txt2img.h"

namespace sdr::cli {
namespace {

struct GenerateOptions {
  std::string model, vae, tokenizer, out = "output.png";
  std::string sampler = "dpm++2m", scheduler = "discrete", rng = "cuda";
  GenerateParams params;
  double timeout_s = 0;
  bool free_params = false;
  int threads = 0;
  CLI::App* sub = nullptr;  // to tell flags given on the command line from defaults
};

// Flags override the environment (SD_* variables, runtime/config.h), which overrides defaults.
Status ApplyEnvironment(GenerateOptions& o) {
  SDR_ASSIGN_OR_RETURN(RuntimeConfig env, LoadConfigFromEnv());
  auto given = [&](const char* flag) { return o.sub->count(flag) > 0; };
  if (!given("--model")) o.model = env.model_path;
  if (!given("--vae")) o.vae = env.vae_path;
  if (!given("--tokenizer")) o.tokenizer = env.tokenizer_path;
  if (!given("--width")) o.params.width = env.width;
  if (!given("--height")) o.params.height = env.height;
  if (!given("--steps")) o.params.steps = env.steps;
  if (!given("--cfg-scale")) o.params.cfg_scale = env.guidance_scale;
  if (!given("--negative-prompt")) o.params.negative_prompt = env.negative_prompt;
  if (!given("--sampler")) o.sampler = std::string(ToString(env.sampler));
  if (!given("--scheduler")) o.scheduler = std::string(ToString(env.scheduler));
  if (!given("--vae-tiling")) o.params.vae_tiling = env.vae_tiling;
  if (!given("--free-params")) o.free_params = env.free_params;
  if (!given("--timeout")) o.timeout_s = env.timeout_seconds;
  if (!given("--threads")) o.threads = env.threads;
  if (o.model.empty()) return InvalidArgument("no model: pass -m MODEL or set SD_MODEL_PATH");
  return Status::Ok();
}

Status RunGenerate(GenerateOptions o) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  SDR_RETURN_IF_ERROR(ApplyEnvironment(o));
  cpu::SetBlasThreads(o.threads);
  // Settings first: no heavy work before they are known to be valid.
  auto sampler = ParseSamplerKind(o.sampler);
  if (!sampler) return InvalidArgument("unknown --sampler '" + o.sampler + "' (euler_a, euler, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2mv2, lcm)");
  auto scheduler = ParseScheduler(o.scheduler);
  if (!scheduler) return InvalidArgument("unknown --scheduler '" + o.scheduler + "' (discrete, karras)");
  auto rng = ParseRngKind(o.rng);
  if (!rng) return InvalidArgument("unknown --rng '" + o.rng + "' (cuda, cpu)");
  o.params.sampler = *sampler;
  o.params.scheduler = *scheduler;
  o.params.rng = *rng;
  SDR_RETURN_IF_ERROR(ValidateParams(o.params));
  std::error_code ec;
  if (!std::filesystem::exists(o.model, ec)) return NotFound("model '" + o.model + "' does not exist");

  SDR_ASSIGN_OR_RETURN(std::unique_ptr<SdModel> loaded, SdModel::Load({o.model, o.vae, o.tokenizer}));
  std::shared_ptr<SdModel> model = std::move(loaded);
  const double load_s = std::chrono::duration<double>(Clock::now() - start).count();

  ProgressBar bar(::isatty(STDERR_FILENO) || std::getenv("SDR_PROGRESS") != nullptr);
  Context ctx(model, {.memory_budget_bytes = 0, .timeout_s = o.timeout_s});
  if (o.free_params) {
    // Single-shot: the UNet's weights go once sampling is done, before the VAE decode.
    ctx.set_after_sampling([model] { model->ReleaseUnetWeights(); });
  }
  auto result = ctx.Generate(o.params, [&](const StepProgress& p) {
    bar.Update(p.image * p.total_steps + p.step, o.params.batch_count * p.total_steps, p.elapsed_s);
    return true;
  });
  bar.Finish();
  if (!result.ok()) return result.status();

  GenerationInfo info;
  info.prompt = o.params.prompt;
  info.negative_prompt = o.params.negative_prompt;
  info.steps = o.params.steps;
  info.sampler = std::string(A1111Name(o.params.sampler));
  info.schedule = o.params.scheduler == Scheduler::kKarras ? "Karras" : "Automatic";
  info.cfg_scale = o.params.cfg_scale;
  info.seed = result->seed;  // per image below
  info.width = o.params.width;
  info.height = o.params.height;
  info.clip_skip = o.params.clip_skip;
  info.rng = o.params.rng;
  info.model_name = std::filesystem::path(o.model).stem().string();
  if (auto hash = CachedModelHash(o.model); hash.ok()) info.model_hash = *hash;
  for (size_t b = 0; b < result->images.size(); ++b) {
    const GeneratedImage& img = result->images[b];
    std::string path = o.out;
    if (result->images.size() > 1) {
      const std::filesystem::path p(o.out);
      path = (p.parent_path() / (p.stem().string() + "_" + std::to_string(b) + p.extension().string())).string();
    }
    info.seed = img.seed;
    SDR_RETURN_IF_ERROR(WritePng(path, img.rgb.data(), o.params.width, o.params.height,
                                 {{"parameters", FormatInfotext(info)}}));
    std::printf("wrote %s (seed %llu)\n", path.c_str(), static_cast<unsigned long long>(img.seed));
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("timings: load %.2f s, text %.2f s, sampling %.2f s, decode %.2f s, total %.2f s\n", load_s,
              result->timings.text_s, result->timings.sampling_s, result->timings.decode_s, total_s);
  return Status::Ok();
}

}  // namespace

Command RegisterGenerate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand("generate", "Generate an image from a text prompt");
  o->sub = sub;
  sub->add_option("-m,--model", o->model, "model file or diffusers folder (default: SD_MODEL_PATH)");
  sub->add_option("-p,--prompt", o->params.prompt, "prompt (A1111 weighting syntax)")->required();
  sub->add_option("-n,--negative-prompt", o->params.negative_prompt, "negative prompt");
  sub->add_option("-W,--width", o->params.width, "width in pixels (multiple of 8)")->capture_default_str();
  sub->add_option("-H,--height", o->params.height, "height in pixels (multiple of 8)")->capture_default_str();
  sub->add_option("--steps", o->params.steps, "sampling steps")->capture_default_str();
  sub->add_option("--cfg-scale", o->params.cfg_scale, "classifier-free guidance scale")->capture_default_str();
  sub->add_option("--sampler", o->sampler, "euler_a, euler, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2mv2, lcm")
      ->capture_default_str();
  sub->add_option("--scheduler", o->scheduler, "discrete or karras")->capture_default_str();
  sub->add_option("--seed", o->params.seed, "seed; negative picks a random one")->capture_default_str();
  sub->add_option("--rng", o->rng, "cuda (Philox, A1111/sd.cpp compatible) or cpu (torch CPU)")->capture_default_str();
  sub->add_option("--clip-skip", o->params.clip_skip, "1 = last CLIP layer")->capture_default_str();
  sub->add_option("-b,--batch-count", o->params.batch_count, "images to generate; image b uses seed + b")
      ->capture_default_str();
  sub->add_flag("--vae-tiling", o->params.vae_tiling, "decode in overlapping tiles (bounded memory)");
  sub->add_flag("--free-params", o->free_params, "release the UNet weights after sampling (lower peak memory)");
  sub->add_option("--timeout", o->timeout_s, "seconds per generation (default: SD_TIMEOUT_SECONDS, 120)");
  sub->add_option("--threads", o->threads, "CPU threads (default: SD_THREADS, physical cores)");
  sub->add_option("--vae", o->vae, "external VAE file");
  sub->add_option("--tokenizer", o->tokenizer, "CLIP merges.txt (or a folder holding it)");
  sub->add_option("-o,--output", o->out, "output PNG")->capture_default_str();
  sub->add_option("--dump-dir", o->params.dump_dir, "write intermediate tensors as .npy into this folder");
  return {sub, [o] { return RunGenerate(*o); }};
}

}  // namespace sdr::cli
