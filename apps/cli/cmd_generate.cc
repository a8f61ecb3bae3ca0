// sdr generate [-m MODEL] -p PROMPT [--init-image IN.png --strength S] [...]: text (or image) to image, written as PNG with A1111 infotext.
// Settings come from flags, then SD_* variables, then defaults (the config table declares the
// shared ones once: runtime/config.h). Everything that could fail after the images exist (the
// output path) is checked before the model loads, so no generation is lost at the end.
//
// With -m the model runs here directly (every engine option: --free-params, --dump-dir). Without
// it the request goes through the Generator (imagegen/selection.h): SD_MODEL_PATH's model when it
// loads, else Azure OpenAI or OpenAI when their variables are set; the PNG is written either way.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/config_flags.h"
#include "apps/cli/progress_bar.h"
#include "core/enum_names.h"
#include "imagegen/selection.h"
#include "runtime/config.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/infotext.h"
#include "runtime/model_hash_cache.h"
#include "runtime/png_reader.h"
#include "runtime/png_writer.h"
#include "runtime/system_info.h"
#include "runtime/tensor_rgb.h"
#include "runtime/txt2img.h"

namespace sdr::cli {
namespace {

// The settings only `generate` has (per request, not configuration).
struct GenerateFlags {
  std::string prompt, rng = std::string(ToString(GenerateParams{}.rng)), out = "output.png", dump_dir;
  std::string init_image;                     // img2img: PNG path ("" = text to image)
  std::string mask;                           // inpainting: PNG path, white = repaint ("" = none)
  std::string preview_path;                   // TAESD previews written here (PNG, overwritten)
  int preview_every = 1;                      // steps between previews
  bool taesd_decode = false;                  // the final image from the TAESD too
  int mask_blur = GenerateParams{}.mask_blur;  // pixels
  float strength = GenerateParams{}.strength;  // img2img denoising strength
  int64_t seed = GenerateParams{}.seed;
  int clip_skip = GenerateParams{}.clip_skip;
  int batch_count = GenerateParams{}.batch_count;
  bool dry_run = false;
};

struct GenerateCommand {
  GenerateFlags flags;
  std::unique_ptr<ConfigFlags> config_flags;
};

// The output file of image b of n: "out.png", or "out_0.png", "out_1.png", ... for a batch.
std::string OutputPath(const std::string& out, size_t b, size_t n) {
  if (n == 1) return out;
  const std::filesystem::path p(out);
  return (p.parent_path() / (p.stem().string() + "_" + std::to_string(b) + p.extension().string())).string();
}

std::string Mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// --dry-run: the activation memory the generation would reserve, stage by stage.
Status PrintPlan(const SdModel& model, const GenerateParams& params) {
  SDR_ASSIGN_OR_RETURN(MemoryPlan plan, PlanGeneration(model, params));
  std::printf("device:  %s (%s)\n", model.backend().info().name.c_str(), model.backend().info().description.c_str());
  std::printf("plan:    %dx%d, %s guidance pair\n", params.width, params.height,
              params.cfg_scale == 1.0f ? "no" : plan.batched_cfg ? "batch-2" : "two batch-1 evaluations per");
  if (!params.init_image.empty()) std::printf("  VAE encode   %s\n", Mb(plan.encode).c_str());
  std::printf("  text encode  %s\n  UNet eval    %s\n  VAE decode   %s%s\n  total        %s (activation arena)\n",
              Mb(plan.text).c_str(), Mb(plan.unet).c_str(), Mb(plan.decode).c_str(), params.vae_tiling ? " (tiled)" : "",
              Mb(plan.total).c_str());
  return Status::Ok();
}

// Without -m: one request through the Generator chosen from the configuration.
Status RunThroughGenerator(const GenerateCommand& cmd, const RuntimeConfig& config, const GenerateParams& params,
                           const EnvLookup& env, double timeout_s) {
  const GenerateFlags& f = cmd.flags;
  if (!f.dump_dir.empty()) return InvalidArgument("--dump-dir needs a model given with -m");
  if (!f.init_image.empty()) return InvalidArgument("--init-image needs a model given with -m");
  if (!f.mask.empty()) return InvalidArgument("--mask needs a model given with -m");
  if (f.dry_run) return InvalidArgument("--dry-run needs a model given with -m");
  SelectionOptions options;
  options.local_timeout_s = timeout_s;
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<Generator> gen, CreateGeneratorFromConfig(config, options));
  for (const std::string& r : gen->selection_reasons()) std::fprintf(stderr, "provider selection: %s\n", r.c_str());
  ImageRequest req;
  req.prompt = params.prompt;
  req.n = params.batch_count;
  req.seed = params.seed;
  req.rng = params.rng;
  req.clip_skip = params.clip_skip;
  // The size only when asked for: a cloud model has its own sizes (dall-e-3: 1024x1024, ...).
  if (cmd.config_flags->Given("image_size") || EnvValue(env, FindConfigField("image_size")->env_var)) {
    req.width = params.width;
    req.height = params.height;
  }
  // Engine settings: the local provider takes them from `config` (flags applied); the cloud
  // providers have none.
  ProgressBar bar(::isatty(STDERR_FILENO) || std::getenv("SDR_PROGRESS") != nullptr);
  auto result = gen->Generate(req, [&](const ImageProgress& p) {
    bar.Update(p.image * p.total_steps + p.step, params.batch_count * p.total_steps, p.elapsed_s);
    return true;
  });
  bar.Finish();
  if (!result.ok()) return result.status();
  for (size_t b = 0; b < result->images.size(); ++b) {
    const GeneratedPng& img = result->images[b];
    const std::string path = OutputPath(f.out, b, result->images.size());
    SDR_RETURN_IF_ERROR(WriteFileAtomically(path, img.png));
    std::string about = result->provider + " " + result->model + ", " + std::to_string(img.width) + "x" +
                        std::to_string(img.height);
    if (img.seed >= 0) about += ", seed " + std::to_string(img.seed);
    std::printf("wrote %s (%s)\n", path.c_str(), about.c_str());
    if (!img.revised_prompt.empty()) std::printf("revised prompt: %s\n", img.revised_prompt.c_str());
  }
  std::printf("provider %s: %.2f s%s\n", result->provider.c_str(), result->seconds,
              result->request_id.empty() ? "" : (", request id " + result->request_id).c_str());
  return Status::Ok();
}

Status RunGenerate(const GenerateCommand& cmd) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const GenerateFlags& f = cmd.flags;
  const EnvLookup env = ProcessEnv();
  SDR_ASSIGN_OR_RETURN(RuntimeConfig config, LoadConfigFromEnv(env));
  SDR_RETURN_IF_ERROR(cmd.config_flags->Apply(config));
  SetComputeThreads(config.threads);

  // Settings first: no heavy work before they are known to be valid.
  GenerateParams params = ParamsFromConfig(config);
  params.prompt = f.prompt;
  params.seed = f.seed;
  params.clip_skip = f.clip_skip;
  params.batch_count = f.batch_count;
  params.dump_dir = f.dump_dir;
  params.strength = f.strength;
  params.mask_blur = f.mask_blur;
  if (!f.mask.empty()) {
    auto img = ReadPng(f.mask);
    if (!img.ok()) return img.status().WithContext("--mask");
    params.mask = std::move(img).value();
  }
  if (!f.init_image.empty()) {
    auto img = ReadPng(f.init_image);
    if (!img.ok()) return img.status().WithContext("--init-image");
    params.init_image = std::move(img).value();
    // No size asked for: the init image's own, rounded down to multiples of 8 (as
    // stable-diffusion.cpp takes it from the image); else the image is fitted to the size asked.
    if (!cmd.config_flags->Given("image_size") && !EnvValue(env, FindConfigField("image_size")->env_var)) {
      params.width = params.init_image.width / 8 * 8;
      params.height = params.init_image.height / 8 * 8;
    }
  }
  const auto rng = ParseRngKind(f.rng);
  if (!rng) return InvalidArgument("unknown --rng '" + f.rng + "' (" + JoinNames(AllRngKinds()) + ")");
  params.rng = *rng;
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  // Interactive use: a timeout only when one is asked for (--timeout or SD_TIMEOUT_SECONDS).
  const double timeout_s = InteractiveTimeoutSeconds(config, env, cmd.config_flags->Given("timeout_seconds"));
  for (int b = 0; b < params.batch_count; ++b) {
    SDR_RETURN_IF_ERROR(CheckOutputWritable(OutputPath(f.out, static_cast<size_t>(b), params.batch_count)));
  }
  if (!cmd.config_flags->Given("model_path")) return RunThroughGenerator(cmd, config, params, env, timeout_s);

  if ((!f.preview_path.empty() || f.taesd_decode) && config.taesd_path.empty()) {
    return InvalidArgument(std::string(f.taesd_decode ? "--taesd-decode" : "--preview-path") +
                           " needs a TAESD decoder (--taesd or SD_TAESD_PATH)");
  }
  params.taesd_decode = f.taesd_decode;
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<SdModel> loaded,
                       SdModel::Load({config.model_path, config.vae_path, config.tokenizer_path, config.device,
                                      config.cuda_precision,
                                      f.preview_path.empty() && !f.taesd_decode ? std::string() : config.taesd_path}));
  std::shared_ptr<SdModel> model = std::move(loaded);
  const double load_s = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string device = model->backend().info().name;
  if (f.dry_run) return PrintPlan(*model, params);
  const auto hash_future = CachedModelHashAsync(config.model_path);  // overlaps sampling

  ProgressBar bar(::isatty(STDERR_FILENO) || std::getenv("SDR_PROGRESS") != nullptr);
  Context ctx(model, {.memory_budget_bytes = 0, .timeout_s = timeout_s});
  if (config.free_params) {
    // Single-shot: the UNet's weights go once sampling is done, before the VAE decode.
    ctx.set_after_sampling([model] { model->ReleaseUnetWeights(); });
  }
  if (!f.preview_path.empty()) ctx.set_preview_every(std::max(1, f.preview_every));
  auto result = ctx.Generate(params, [&](const StepProgress& p) {
    bar.Update(p.image * p.total_steps + p.step, params.batch_count * p.total_steps, p.elapsed_s);
    if (p.preview != nullptr) {  // [1, 3, H, W] -> 8-bit RGB, written over the last one
      std::vector<uint8_t> rgb;
      ImageTensorToRgb8(*p.preview, &rgb);
      const int w = static_cast<int>(p.preview->dim(3)), h = static_cast<int>(p.preview->dim(2));
      if (Status s = WritePng(f.preview_path, rgb.data(), w, h); !s.ok()) {
        std::fprintf(stderr, "preview: %s\n", s.ToString().c_str());
      }
    }
    return true;
  });
  bar.Finish();
  if (!result.ok()) return result.status();

  const std::string model_name = std::filesystem::path(config.model_path).stem().string();
  const Result<std::string>& hash = hash_future.get();
  for (size_t b = 0; b < result->images.size(); ++b) {
    const GeneratedImage& img = result->images[b];
    GenerationInfo info = MakeGenerationInfo(params, img.seed, img.width(), img.height());
    info.model_name = model_name;
    if (hash.ok()) info.model_hash = *hash;
    if (auto lora = LoraHashes(params); lora.ok() && !lora->empty()) info.extra.emplace_back("Lora hashes", *lora);
    info.extra.emplace_back("Device", device);
    const std::string path = OutputPath(f.out, b, result->images.size());
    SDR_RETURN_IF_ERROR(WritePng(path, img.rgb.data(), img.width(), img.height(),
                                 {{"parameters", FormatInfotext(info)}}));
    std::printf("wrote %s (seed %llu)\n", path.c_str(), static_cast<unsigned long long>(img.seed));
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  char encode[48] = "";
  if (!params.init_image.empty()) std::snprintf(encode, sizeof(encode), ", encode %.2f s", result->timings.encode_s);
  if (result->timings.previews > 0) {
    std::printf("previews: %d TAESD decodes, %.1f ms each\n", result->timings.previews,
                1000.0 * result->timings.preview_s / result->timings.previews);
  }
  std::printf("timings: load %.2f s, text %.2f s%s, sampling %.2f s, decode %.2f s, total %.2f s, device %s\n",
              load_s, result->timings.text_s, encode, result->timings.sampling_s, result->timings.decode_s,
              total_s, device.c_str());
  return Status::Ok();
}

}  // namespace

Command RegisterGenerate(CLI::App& app) {
  auto cmd = std::make_shared<GenerateCommand>();
  GenerateFlags& f = cmd->flags;
  CLI::App* sub = app.add_subcommand("generate", "Generate an image from a text prompt");
  sub->add_option("-p,--prompt", f.prompt, "prompt (A1111 weighting syntax)")->required();
  cmd->config_flags = std::make_unique<ConfigFlags>(
      sub, std::initializer_list<std::string_view>{"model_path", "negative_prompt", "image_size", "steps",
                                                   "guidance_scale", "sampler", "scheduler", "vae_path",
                                                   "tokenizer_path", "lora_dir", "taesd_path", "vae_tiling", "free_params",
                                                   "timeout_seconds", "threads", "device", "cuda_precision"});
  sub->add_option("--seed", f.seed, "seed; negative picks a random one")->capture_default_str();
  sub->add_option("--rng", f.rng, JoinNames(AllRngKinds()) + ": cuda = Philox (A1111/sd.cpp), cpu = torch CPU")
      ->capture_default_str();
  sub->add_option("--clip-skip", f.clip_skip, "1 = last CLIP layer")->capture_default_str();
  sub->add_option("-b,--batch-count", f.batch_count, "images to generate; image b uses seed + b")
      ->capture_default_str();
  sub->add_option("-o,--output", f.out, "output PNG (a batch writes NAME_0.png, NAME_1.png, ...)")
      ->capture_default_str();
  sub->add_option("--init-image", f.init_image,
                  "img2img: start from this PNG (fitted to -W/-H by centre crop + box resize; default size: the "
                  "image's, rounded down to multiples of 8)");
  sub->add_option("--strength", f.strength, "img2img denoising strength in [0, 1]: 1 = the whole schedule")
      ->capture_default_str();
  sub->add_option("--mask", f.mask, "inpainting: PNG mask, white = repaint, black = keep (needs --init-image)");
  sub->add_option("--mask-blur", f.mask_blur,
                  "inpainting: Gaussian blur of the mask in pixels; > 0 also pastes the init image back outside it "
                  "(A1111); 0 = a hard mask (stable-diffusion.cpp)")
      ->capture_default_str();
  sub->add_option("--preview-path", f.preview_path,
                  "write a TAESD preview PNG here during sampling (needs --taesd), overwritten as steps go");
  sub->add_option("--preview-every", f.preview_every, "steps between previews")->capture_default_str();
  sub->add_flag("--taesd-decode", f.taesd_decode, "decode the final image with the TAESD too (fast, rough; needs --taesd)");
  sub->add_option("--dump-dir", f.dump_dir, "write intermediate tensors as .npy into this folder");
  sub->add_flag("--dry-run", f.dry_run, "load the model, print the planned memory per stage, generate nothing");
  return {sub, [cmd] { return RunGenerate(*cmd); }};
}

}  // namespace sdr::cli
