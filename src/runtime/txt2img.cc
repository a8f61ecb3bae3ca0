#include "runtime/txt2img.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <system_error>

#include "formats/npy.h"

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
  return (static_cast<uint64_t>(rd()) << 32 | rd()) & 0xffffffffull;  // A1111-style 32-bit seeds
}

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
  if (!p.dump_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(p.dump_dir, ec)) {
      return InvalidArgument("dump dir '" + p.dump_dir + "' is not an existing folder");
    }
  }
  return Status::Ok();
}

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params, const ProgressFn& progress) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  const Dumper dump(params.dump_dir);
  GenerateResult result;
  result.seed = params.seed < 0 ? RandomSeed() : static_cast<uint64_t>(params.seed);

  // Text conditioning.
  auto t0 = Clock::now();
  auto cond = model.conditioner().Encode(params.prompt, params.clip_skip);
  if (!cond.ok()) return cond.status().WithContext("encoding the prompt");
  const bool use_uncond = params.cfg_scale != 1.0f;
  Tensor uncond;
  if (use_uncond) {
    auto u = model.conditioner().Encode(params.negative_prompt, params.clip_skip);
    if (!u.ok()) return u.status().WithContext("encoding the negative prompt");
    uncond = std::move(u).value();
  }
  result.timings.text_s = Since(t0);
  SDR_RETURN_IF_ERROR(dump.Write("cond_crossattn", *cond));
  if (use_uncond) SDR_RETURN_IF_ERROR(dump.Write("uncond_crossattn", uncond));

  // Noise and schedule.
  t0 = Clock::now();
  const int64_t lh = params.height / 8, lw = params.width / 8;
  const Shape latent_shape = {1, 4, lh, lw};
  const int64_t n = 4 * lh * lw;
  const NoiseSchedule schedule;
  const std::vector<float> sigmas = MakeSigmas(schedule, params.scheduler, params.steps);
  std::unique_ptr<NoiseGenerator> gen = MakeNoiseGenerator(params.rng, result.seed);
  SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Allocate(DType::kF32, latent_shape));
  std::span<float> xs(x.mutable_data<float>(), static_cast<size_t>(n));
  gen->Randn(xs);
  SDR_RETURN_IF_ERROR(dump.Write("noise", x));
  SDR_RETURN_IF_ERROR(dump.Write("sigmas", sigmas, {static_cast<int64_t>(sigmas.size())}));
  for (float& v : xs) v *= sigmas[0];
  SDR_RETURN_IF_ERROR(dump.Write("x_T", x));

  // The CFG denoiser.
  int call = 0;
  SDR_ASSIGN_OR_RETURN(Tensor xin, Tensor::Allocate(DType::kF32, latent_shape));
  const Denoiser denoiser = [&](std::span<const float> xv, float sigma, std::span<float> out) -> Status {
    const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    float* pin = xin.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) pin[i] = xv[static_cast<size_t>(i)] * c_in;
    const float t = schedule.SigmaToT(sigma);
    SDR_ASSIGN_OR_RETURN(Tensor eps_c, model.unet().Forward(xin, t, *cond));
    Tensor eps_u;
    if (use_uncond) {
      SDR_ASSIGN_OR_RETURN(eps_u, model.unet().Forward(xin, t, uncond));
    }
    const float* ec = eps_c.data<float>();
    const float* eu = use_uncond ? eps_u.data<float>() : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      const float eps = use_uncond ? eu[i] + params.cfg_scale * (ec[i] - eu[i]) : ec[i];
      out[static_cast<size_t>(i)] = xv[static_cast<size_t>(i)] - sigma * eps;
    }
    if (dump.enabled()) {
      const std::string p = "call" + std::to_string(call) + "_";
      SDR_RETURN_IF_ERROR(dump.Write(p + "x", xv, latent_shape));
      SDR_RETURN_IF_ERROR(dump.Write(p + "sigma", std::span<const float>(&sigma, 1), {1}));
      SDR_RETURN_IF_ERROR(dump.Write(p + "eps_cond", eps_c));
      if (use_uncond) SDR_RETURN_IF_ERROR(dump.Write(p + "eps_uncond", eps_u));
      SDR_RETURN_IF_ERROR(dump.Write(p + "denoised", std::span<const float>(out.data(), out.size()), latent_shape));
    }
    ++call;
    return Status::Ok();
  };
  const NoiseSource noise = [&](std::span<float> out) { gen->Randn(out); };
  const auto sample_start = Clock::now();
  const StepCallback on_step = [&](int step, int total, std::span<const float>) {
    return progress ? progress(step, total, Since(sample_start)) : true;
  };
  SDR_RETURN_IF_ERROR(Sample(params.sampler, denoiser, sigmas, xs, noise, on_step).WithContext("sampling"));
  result.timings.sampling_s = Since(t0);
  SDR_RETURN_IF_ERROR(dump.Write("x0", x));
  if (dump.enabled()) {
    SDR_ASSIGN_OR_RETURN(Tensor scaled, Tensor::Allocate(DType::kF32, latent_shape));
    for (int64_t i = 0; i < n; ++i) scaled.mutable_data<float>()[i] = x.data<float>()[i] / VaeDecoder::kLatentScale;
    SDR_RETURN_IF_ERROR(dump.Write("latent_to_vae", scaled));
  }

  // Decode.
  t0 = Clock::now();
  auto image = model.vae().Decode(x);
  if (!image.ok()) return image.status().WithContext("decoding");
  result.image = std::move(image).value();
  result.timings.decode_s = Since(t0);
  SDR_RETURN_IF_ERROR(dump.Write("decoded", result.image));
  const int64_t h = result.image.dim(2), w = result.image.dim(3);
  result.rgb.resize(static_cast<size_t>(h * w * 3));
  const float* img = result.image.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i)
      result.rgb[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(std::lround(img[c * h * w + i] * 255.0f));
  return result;
}

}  // namespace sdr
