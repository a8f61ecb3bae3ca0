#include "imagegen/local_provider.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/enum_names.h"
#include "runtime/errors.h"
#include "runtime/infotext.h"
#include "runtime/model_hash_cache.h"
#include "runtime/png_writer.h"

namespace sdr {
namespace {
using Clock = std::chrono::steady_clock;

// [1, 3, H, W] in [0, 1] -> 8-bit RGB.
RgbImage ToRgb(const Tensor& image) {
  RgbImage out;
  out.height = static_cast<int>(image.dim(2));
  out.width = static_cast<int>(image.dim(3));
  const size_t plane = static_cast<size_t>(out.width) * static_cast<size_t>(out.height);
  out.rgb.resize(plane * 3);
  const float* v = image.data<float>();
  for (size_t i = 0; i < plane; ++i) {
    for (size_t c = 0; c < 3; ++c) {
      const float x = std::clamp(v[c * plane + i], 0.0f, 1.0f);
      out.rgb[i * 3 + c] = static_cast<uint8_t>(std::lround(x * 255.0f));
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<LocalProvider>> LocalProvider::Load(const RuntimeConfig& config) {
  if (config.model_path.empty()) return WithErrorCode(InvalidArgument("no model: SD_MODEL_PATH is empty"), ErrorCode::kInvalidParams);
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<SdModel> model,
                       SdModel::Load({config.model_path, config.vae_path, config.tokenizer_path, config.device, "",
                                      config.taesd_path}));
  return Create(std::shared_ptr<const SdModel>(std::move(model)), config);
}

Result<std::unique_ptr<LocalProvider>> LocalProvider::Create(std::shared_ptr<const SdModel> model,
                                                             const RuntimeConfig& config) {
  if (model == nullptr) return InvalidArgument("LocalProvider needs a loaded model");
  std::unique_ptr<LocalProvider> p(new LocalProvider());
  PoolOptions pool;
  pool.max_concurrent = config.max_concurrent;
  pool.context.timeout_s = config.timeout_seconds;
  SDR_ASSIGN_OR_RETURN(p->pool_, ContextPool::Create(model, pool));
  p->model_ = std::move(model);
  p->defaults_ = ParamsFromConfig(config);
  p->preview_every_ = p->model_->has_taesd() ? config.preview_every : 0;
  p->model_name_ = std::filesystem::path(p->model_->path()).stem().string();
  p->hash_ = CachedModelHashAsync(p->model_->path());  // overlaps loading and the first generation
  ProviderCapabilities& c = p->caps_;
  c.min_side = GenerateParams::kMinSide;
  c.max_side = GenerateParams::kMaxSide;
  c.default_size = {config.width, config.height};
  c.max_n = GenerateParams::kMaxBatch;
  c.engine_settings = true;
  for (SamplerKind k : AllSamplerKinds()) c.samplers.emplace_back(ToString(k));
  for (Scheduler s : AllSchedulers()) c.schedulers.emplace_back(ToString(s));
  c.max_steps = GenerateParams::kMaxSteps;
  c.image_input = true;
  c.preview_every = p->preview_every_;
  return p;
}

LocalProvider::~LocalProvider() = default;  // the pool's destructor cancels what is in flight

// The pool is open for the provider's whole life (only the destructor closes it), and a busy
// pool is still ready: requests queue in the Generator.
Status LocalProvider::Ready() const { return Status::Ok(); }

GenerateParams LocalProvider::ParamsFor(const ImageRequest& r) const {
  GenerateParams p = defaults_;
  p.prompt = r.prompt;
  if (!r.negative_prompt.empty()) p.negative_prompt = r.negative_prompt;
  if (r.width > 0 && r.height > 0) {
    p.width = r.width;
    p.height = r.height;
  }
  if (r.steps > 0) p.steps = r.steps;
  if (r.cfg_scale > 0) p.cfg_scale = r.cfg_scale;
  if (r.sampler) p.sampler = *r.sampler;
  if (r.scheduler) p.scheduler = *r.scheduler;
  p.seed = r.seed;
  if (r.rng) p.rng = *r.rng;
  if (r.clip_skip > 0) p.clip_skip = r.clip_skip;
  p.batch_count = r.n;
  p.init_image = r.init_image;
  p.strength = r.strength;
  p.mask = r.mask;
  p.mask_blur = r.mask_blur;
  p.inpainting_fill = r.inpainting_fill;
  return p;
}

Result<ImageResult> LocalProvider::Generate(const ImageRequest& request, const ImageProgressFn& progress,
                                            const CancelToken* cancel, double timeout_s) {
  const auto start = Clock::now();
  const GenerateParams params = ParamsFor(request);
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  // The Generator admits at most max_concurrent requests, so a context is normally free at once.
  SDR_ASSIGN_OR_RETURN(ContextLease lease, pool_->Acquire(std::chrono::seconds(5)));
  lease->options().timeout_s = timeout_s;
  lease->set_preview_every(progress ? preview_every_ : 0);
  ProgressFn step_progress;
  if (progress) {
    const int h = params.height / 8, w = params.width / 8;
    step_progress = [&progress, h, w](const StepProgress& s) {
      LatentView latent;
      const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
      if (plane > 0 && !s.latent.empty() && s.latent.size() % plane == 0) {
        latent = {s.latent, static_cast<int>(s.latent.size() / plane), h, w};
      }
      RgbImage preview;
      if (s.preview != nullptr) preview = ToRgb(*s.preview);
      return progress({s.image, s.step, s.total_steps, s.elapsed_s, latent, s.preview != nullptr ? &preview : nullptr,
                       s.preview_s * 1000.0});
    };
  }
  SDR_ASSIGN_OR_RETURN(GenerateResult generated, lease->Generate(params, step_progress, cancel));
  ImageResult result;
  result.provider = "local";
  result.model = model_name_;
  const Result<std::string>& hash = hash_.get();
  for (const GeneratedImage& img : generated.images) {
    GenerationInfo info = MakeGenerationInfo(params, img.seed, img.width(), img.height());
    info.model_name = model_name_;
    if (hash.ok()) info.model_hash = *hash;
    GeneratedPng png;
    png.infotext = FormatInfotext(info);
    SDR_ASSIGN_OR_RETURN(png.png, EncodePng(img.rgb.data(), img.width(), img.height(), {{"parameters", png.infotext}}));
    png.width = img.width();
    png.height = img.height();
    png.seed = static_cast<int64_t>(img.seed);
    result.images.push_back(std::move(png));
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace sdr
