#include "runtime/txt2img.h"

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
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
    project_ = index == 0;
    const int64_t lh = p_.height / 8, lw = p_.width / 8, lc = model_.unet().in_channels();
    shape_ = {1, lc, lh, lw};
    n_ = lc * lh * lw;
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
    const double decode_s = Since(t0);
    timings->decode_s += decode_s;
    if (!p_.vae_tiling && decode_s > 0) model_.RecordDecodeRate(model_.vae().DecodeFlops(shape_[2], shape_[3]) / decode_s);
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
    const auto call_start = Clock::now();
    const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    float* pin = xin_.mutable_data<float>();
    for (int64_t i = 0; i < n_; ++i) pin[i] = xv[static_cast<size_t>(i)] * c_in;
    const float t = schedule_.SigmaToT(sigma);
    const bool cold = !model_.unet_warm();
    SDR_ASSIGN_OR_RETURN(Tensor eps_c, model_.unet().Forward(xin_, t, c_.cond, control_.run));
    model_.MarkUnetWarm();
    double eval_s = Since(call_start);  // one warm UNet evaluation, when !cold
    const bool guided = c_.uncond.defined();
    Tensor eps_u;
    if (guided) {
      const auto t1 = Clock::now();
      SDR_ASSIGN_OR_RETURN(eps_u, model_.unet().Forward(xin_, t, c_.uncond, control_.run));
      eval_s = Since(t1);
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
    // Project once the evaluation measured is warm: the first call, or the second on a model's
    // first generation without guidance (its only evaluation in the first call paged weights in).
    if (project_ && (guided || !cold)) {
      project_ = false;
      return CheckProjection(eval_s);
    }
    return Status::Ok();
  }

  // The timeout rule (README "Timeouts"): as soon as one warm UNet evaluation has been timed (the
  // first denoiser call of the first image; with guidance its second evaluation, which runs on
  // paged-in weights), the whole generation is projected: every remaining UNet evaluation at
  // that time, plus each image's decode at the VAE's measured FLOP rate (its last decode on this
  // model, or a small probe decode the first time). If the projection ends past the deadline the
  // generation fails right then with DeadlineExceeded giving the projection and the setting to
  // change, rather than minutes later.
  Status CheckProjection(double eval_s) const {
    const RunControl* run = control_.run;
    if (run == nullptr || !run->deadline()) return Status::Ok();
    const bool guided = c_.uncond.defined();
    const int64_t lh = shape_[2], lw = shape_[3];
    SDR_ASSIGN_OR_RETURN(const double decode_rate, DecodeRate());
    const double decode_s = model_.vae().DecodeFlops(lh, lw) / decode_rate;
    const int calls = DenoiserCalls(p_.sampler, p_.steps);
    const int evals = calls * (guided ? 2 : 1) * p_.batch_count;
    const double remaining_s = (evals - (guided ? 2 : 1) * call_) * eval_s + decode_s * p_.batch_count;
    const double elapsed_s = Since(start_);
    const double call_s = eval_s * (guided ? 2 : 1);
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(remaining_s));
    if (end <= *run->deadline()) return Status::Ok();
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "this generation is projected to take about %.0f s, more than the timeout of %.0f s "
                  "(%d image%s x %d denoiser calls at %.2f s each, measured, plus about %.0f s to decode each): "
                  "raise the timeout (--timeout or SD_TIMEOUT_SECONDS; timeout_s in the C API) or ask for fewer "
                  "steps or a smaller image",
                  elapsed_s + remaining_s, run->timeout_s(), p_.batch_count, p_.batch_count == 1 ? "" : "s", calls,
                  call_s, decode_s);
    return DeadlineExceeded(buf);
  }

  // The VAE decoder's FLOP rate: measured by an earlier decode on this model, else by a probe
  // (a tiny decode to page weights in, then a 64x64 one, timed).
  Result<double> DecodeRate() const {
    if (model_.decode_flops_per_s() > 0) return model_.decode_flops_per_s();
    const int64_t c = model_.vae().latent_channels();
    SDR_ASSIGN_OR_RETURN(Tensor warm, Tensor::Zeros(DType::kF32, {1, c, 2, 2}));
    SDR_RETURN_IF_ERROR(model_.vae().Decode(warm, control_.run).status());
    SDR_ASSIGN_OR_RETURN(Tensor probe, Tensor::Zeros(DType::kF32, {1, c, 8, 8}));
    const auto t0 = Clock::now();
    SDR_RETURN_IF_ERROR(model_.vae().Decode(probe, control_.run).status());
    const double rate = model_.vae().DecodeFlops(8, 8) / std::max(Since(t0), 1e-6);
    model_.RecordDecodeRate(rate);
    return rate;
  }

  const SdModel& model_;
  const GenerateParams& p_;
  const Conditioning& c_;
  const GenerateControl& control_;
  const Dumper& dump_;
  const Clock::time_point start_;
  bool project_ = false;  // check the timeout projection after the first call (first image only)
  const NoiseSchedule schedule_;
  Shape shape_;
  int64_t n_ = 0;
  Tensor xin_;  // [1, 4, h, w] scaled UNet input
  int call_ = 0;
};

}  // namespace

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
