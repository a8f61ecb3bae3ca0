#include "runtime/txt2img.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <system_error>

#include "formats/npy.h"
#include "runtime/vae_tiling.h"

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Writes named tensors as .npy into a folder when one is given (the golden names).
class Dumper {
 public:
  explicit Dumper(std::string dir) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }
  Status Write(const std::string& name, const Tensor& t) const {
    if (!enabled()) return Status::Ok();
    return WriteNpy(dir_ + "/" + name + ".npy", t);
  }
  Status Write(const std::string& name, std::span<const float> v, const Shape& shape) const {
    if (!enabled()) return Status::Ok();
    SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, shape));
    std::copy(v.begin(), v.end(), t.mutable_data<float>());
    return WriteNpy(dir_ + "/" + name + ".npy", t);
  }

 private:
  std::string dir_;
};

uint64_t RandomSeed() {
  std::random_device rd;
  return static_cast<uint64_t>(rd());  // A1111-style 32-bit seeds
}

struct Conditioning {
  Tensor cond, uncond;  // [1, 77k, C]; uncond undefined when cfg == 1
};

// Samples one latent and decodes it.
class ImageRun {
 public:
  ImageRun(const SdModel& model, const GenerateParams& p, const Conditioning& c, const GenerateControl& control,
           const Dumper& dump, Clock::time_point start)
      : model_(model), p_(p), c_(c), control_(control), dump_(dump), start_(start) {}

  Result<GeneratedImage> Run(int index, uint64_t seed, StageTimings* timings) {
    auto t0 = Clock::now();
    const int64_t lh = p_.height / 8, lw = p_.width / 8;
    shape_ = {1, 4, lh, lw};
    n_ = 4 * lh * lw;
    const std::vector<float> sigmas = MakeSigmas(schedule_, p_.scheduler, p_.steps);
    std::unique_ptr<NoiseGenerator> gen = MakeNoiseGenerator(p_.rng, seed);
    SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Allocate(DType::kF32, shape_));
    SDR_ASSIGN_OR_RETURN(xin_, Tensor::Allocate(DType::kF32, shape_));
    std::span<float> xs(x.mutable_data<float>(), static_cast<size_t>(n_));
    gen->Randn(xs);
    SDR_RETURN_IF_ERROR(dump_.Write("noise", x));
    SDR_RETURN_IF_ERROR(dump_.Write("sigmas", sigmas, {static_cast<int64_t>(sigmas.size())}));
    for (float& v : xs) v *= sigmas[0];
    SDR_RETURN_IF_ERROR(dump_.Write("x_T", x));

    const Denoiser denoiser = [this](std::span<const float> xv, float sigma, std::span<float> out) {
      return Denoise(xv, sigma, out);
    };
    const NoiseSource noise = [&](std::span<float> out) { gen->Randn(out); };
    const StepCallback on_step = [&](int step, int total, std::span<const float> xv) {
      if (!control_.progress) return true;
      return control_.progress({index, step, total, Since(start_), xv});
    };
    SDR_RETURN_IF_ERROR(CheckRun(control_.run));
    SDR_RETURN_IF_ERROR(Sample(p_.sampler, denoiser, sigmas, xs, noise, on_step));
    timings->sampling_s += Since(t0);
    if (index + 1 == p_.batch_count && control_.after_sampling) control_.after_sampling();
    SDR_RETURN_IF_ERROR(dump_.Write("x0", x));
    if (dump_.enabled()) {
      SDR_ASSIGN_OR_RETURN(Tensor scaled, Tensor::Allocate(DType::kF32, shape_));
      for (int64_t i = 0; i < n_; ++i) scaled.mutable_data<float>()[i] = x.data<float>()[i] / VaeDecoder::kLatentScale;
      SDR_RETURN_IF_ERROR(dump_.Write("latent_to_vae", scaled));
    }

    t0 = Clock::now();
    GeneratedImage out;
    out.seed = seed;
    auto image = p_.vae_tiling ? DecodeTiled(model_.vae(), x, {}, control_.run) : model_.vae().Decode(x, control_.run);
    if (!image.ok()) return image.status().WithContext("decoding");
    out.image = std::move(image).value();
    timings->decode_s += Since(t0);
    SDR_RETURN_IF_ERROR(dump_.Write("decoded", out.image));
    const int64_t h = out.image.dim(2), w = out.image.dim(3);
    out.rgb.resize(static_cast<size_t>(h * w * 3));
    const float* img = out.image.data<float>();
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t i = 0; i < h * w; ++i)
        out.rgb[static_cast<size_t>(i * 3 + ch)] = static_cast<uint8_t>(std::lround(img[ch * h * w + i] * 255.0f));
    return out;
  }

 private:
  // D(x, sigma) with classifier-free guidance.
  Status Denoise(std::span<const float> xv, float sigma, std::span<float> out) {
    SDR_RETURN_IF_ERROR(CheckRun(control_.run));
    const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    float* pin = xin_.mutable_data<float>();
    for (int64_t i = 0; i < n_; ++i) pin[i] = xv[static_cast<size_t>(i)] * c_in;
    const float t = schedule_.SigmaToT(sigma);
    SDR_ASSIGN_OR_RETURN(Tensor eps_c, model_.unet().Forward(xin_, t, c_.cond, control_.run));
    const bool guided = c_.uncond.defined();
    Tensor eps_u;
    if (guided) {
      SDR_ASSIGN_OR_RETURN(eps_u, model_.unet().Forward(xin_, t, c_.uncond, control_.run));
    }
    const float* ec = eps_c.data<float>();
    const float* eu = guided ? eps_u.data<float>() : nullptr;
    for (int64_t i = 0; i < n_; ++i) {
      const float eps = guided ? eu[i] + p_.cfg_scale * (ec[i] - eu[i]) : ec[i];
      out[static_cast<size_t>(i)] = xv[static_cast<size_t>(i)] - sigma * eps;
    }
    if (dump_.enabled()) {
      const std::string pre = "call" + std::to_string(call_) + "_";
      SDR_RETURN_IF_ERROR(dump_.Write(pre + "x", xv, shape_));
      SDR_RETURN_IF_ERROR(dump_.Write(pre + "sigma", std::span<const float>(&sigma, 1), {1}));
      SDR_RETURN_IF_ERROR(dump_.Write(pre + "eps_cond", eps_c));
      if (guided) SDR_RETURN_IF_ERROR(dump_.Write(pre + "eps_uncond", eps_u));
      SDR_RETURN_IF_ERROR(dump_.Write(pre + "denoised", std::span<const float>(out.data(), out.size()), shape_));
    }
    ++call_;
    return Status::Ok();
  }

  const SdModel& model_;
  const GenerateParams& p_;
  const Conditioning& c_;
  const GenerateControl& control_;
  const Dumper& dump_;
  const Clock::time_point start_;
  const NoiseSchedule schedule_;
  Shape shape_;
  int64_t n_ = 0;
  Tensor xin_;  // [1, 4, h, w] scaled UNet input
  int call_ = 0;
};

}  // namespace

Status ValidateParams(const GenerateParams& p) {
  auto side = [](const char* name, int v) -> Status {
    if (v < 64 || v > GenerateParams::kMaxSide || v % 8 != 0) {
      return InvalidArgument(std::string(name) + " " + std::to_string(v) + " must be a multiple of 8 in [64, " +
                             std::to_string(GenerateParams::kMaxSide) + "]");
    }
    return Status::Ok();
  };
  SDR_RETURN_IF_ERROR(side("width", p.width));
  SDR_RETURN_IF_ERROR(side("height", p.height));
  if (p.steps < 1 || p.steps > GenerateParams::kMaxSteps) {
    return InvalidArgument("steps " + std::to_string(p.steps) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxSteps) + "]");
  }
  if (!std::isfinite(p.cfg_scale) || p.cfg_scale < 0.0f || p.cfg_scale > 100.0f) {
    return InvalidArgument("cfg_scale " + std::to_string(p.cfg_scale) + " must be a finite number in [0, 100]");
  }
  if (p.clip_skip < 1 || p.clip_skip > 12) {
    return InvalidArgument("clip_skip " + std::to_string(p.clip_skip) + " must be in [1, 12]");
  }
  if (p.batch_count < 1 || p.batch_count > GenerateParams::kMaxBatch) {
    return InvalidArgument("batch_count " + std::to_string(p.batch_count) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxBatch) + "]");
  }
  if (!p.dump_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(p.dump_dir, ec)) {
      return InvalidArgument("dump dir '" + p.dump_dir + "' is not an existing folder");
    }
  }
  return Status::Ok();
}

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params, const GenerateControl& control) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  if (!model.has_unet()) {
    return Unavailable("the UNet weights were released after an earlier generation (SD_FREE_PARAMS); reload the model");
  }
  const auto start = Clock::now();
  GenerateResult result;
  result.seed = params.seed < 0 ? RandomSeed() : static_cast<uint64_t>(params.seed);

  // Text conditioning, once for the whole batch.
  auto t0 = Clock::now();
  Conditioning c;
  SDR_RETURN_IF_ERROR(CheckRun(control.run));
  auto cond = model.conditioner().Encode(params.prompt, params.clip_skip);
  if (!cond.ok()) return cond.status().WithContext("encoding the prompt");
  c.cond = std::move(cond).value();
  if (params.cfg_scale != 1.0f) {
    auto u = model.conditioner().Encode(params.negative_prompt, params.clip_skip);
    if (!u.ok()) return u.status().WithContext("encoding the negative prompt");
    c.uncond = std::move(u).value();
  }
  result.timings.text_s = Since(t0);

  for (int b = 0; b < params.batch_count; ++b) {
    const Dumper dump(b == 0 ? params.dump_dir : "");
    SDR_RETURN_IF_ERROR(dump.Write("cond_crossattn", c.cond));
    if (c.uncond.defined()) SDR_RETURN_IF_ERROR(dump.Write("uncond_crossattn", c.uncond));
    ImageRun run(model, params, c, control, dump, start);
    auto image = run.Run(b, result.seed + static_cast<uint64_t>(b), &result.timings);
    if (!image.ok()) {
      return params.batch_count > 1 ? image.status().WithContext("image " + std::to_string(b)) : image.status();
    }
    result.images.push_back(std::move(image).value());
  }
  return result;
}

}  // namespace sdr
