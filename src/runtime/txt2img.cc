#include "runtime/txt2img.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "formats/npy.h"
#include "runtime/errors.h"
#include "runtime/device_scratch.h"
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

// The prompts as token chunks; uncond only when guided (cfg != 1).
struct Prompts {
  PromptChunks cond, uncond;
  bool guided = false;
  // One batch-2 evaluation needs contexts of the same length.
  bool batched() const { return guided && cond.num_chunks() == uncond.num_chunks(); }
};

Result<Prompts> Tokenize(const SdModel& model, const GenerateParams& p) {
  Prompts t;
  t.guided = p.cfg_scale != 1.0f;
  auto c = model.conditioner().Tokenize(p.prompt);
  if (!c.ok()) return c.status().WithContext("encoding the prompt");
  t.cond = std::move(c).value();
  if (t.guided) {
    auto u = model.conditioner().Tokenize(p.negative_prompt);
    if (!u.ok()) return u.status().WithContext("encoding the negative prompt");
    t.uncond = std::move(u).value();
  }
  return t;
}

struct Conditioning {
  Tensor cond, uncond;  // [1, 77k, C] on the host; uncond undefined when not guided
};

Result<Conditioning> EncodeText(Executor& ex, const SdModel& model, const Prompts& t, int clip_skip) {
  Conditioning c;
  auto cond = model.conditioner().Encode(ex, t.cond, clip_skip);
  if (!cond.ok()) return cond.status().WithContext("encoding the prompt");
  c.cond = std::move(cond).value();
  if (t.guided) {
    auto u = model.conditioner().Encode(ex, t.uncond, clip_skip);
    if (!u.ok()) return u.status().WithContext("encoding the negative prompt");
    c.uncond = std::move(u).value();
  }
  return c;
}

// [1, L, C] and [1, L, C] -> [2, L, C]
Result<Tensor> StackPair(const Tensor& a, const Tensor& b) {
  SDR_ASSIGN_OR_RETURN(Tensor both, Tensor::Allocate(DType::kF32, {2, a.dim(1), a.dim(2)}));
  std::memcpy(both.mutable_raw(), a.raw(), a.nbytes());
  std::memcpy(static_cast<std::byte*>(both.mutable_raw()) + a.nbytes(), b.raw(), b.nbytes());
  return both;
}

// `count` copies of the timestep t as a [count] f32 activation (f32 whatever the activation dtype:
// timesteps near 1000 need f32's precision).
Result<Act> UploadTimesteps(Executor& ex, float t, int64_t count) {
  SDR_ASSIGN_OR_RETURN(Tensor tv, Tensor::Allocate(DType::kF32, {count}));
  for (int64_t i = 0; i < count; ++i) tv.mutable_data<float>()[i] = t;
  return ex.Upload(tv, DType::kF32);
}

// The UNet stage's device state, live through sampling: the text context(s) on the device and a
// host buffer for the scaled input.
class UnetStage {
 public:
  static Result<UnetStage> Start(Executor& ex, const Conditioning& c, bool batched, const Shape& latent) {
    UnetStage s;
    s.batched_ = batched;
    s.guided_ = c.uncond.defined();
    if (batched) {
      SDR_ASSIGN_OR_RETURN(Tensor both, StackPair(c.cond, c.uncond));
      SDR_ASSIGN_OR_RETURN(s.ctx_, ex.Upload(both));
    } else {
      SDR_ASSIGN_OR_RETURN(s.ctx_, ex.Upload(c.cond));
      if (s.guided_) {
        SDR_ASSIGN_OR_RETURN(s.ctx_u_, ex.Upload(c.uncond));
      }
    }
    Shape in = latent;
    in[0] = batched ? 2 : 1;
    SDR_ASSIGN_OR_RETURN(s.xin_, Tensor::Allocate(DType::kF32, in));
    return s;
  }

  bool guided() const { return guided_; }

  // eps for x * c_in at timestep t: cond into eps_c; uncond (when guided) into eps_u. eval_s
  // receives the time of the last UNet evaluation (warm when the pair ran as two).
  Status Eval(Executor& ex, const UnetModel& unet, std::span<const float> x, float c_in, float t, Tensor* eps_c,
              Tensor* eps_u, double* eval_s) {
    const int64_t n = static_cast<int64_t>(x.size());
    float* in = xin_.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) in[i] = x[static_cast<size_t>(i)] * c_in;
    if (batched_) std::memcpy(in + n, in, static_cast<size_t>(n) * sizeof(float));
    auto t0 = Clock::now();
    // The input and the timesteps go up first; the evaluation itself then reads nothing from the
    // host, so on a GPU it is one CUDA graph, recorded once and replayed every step.
    SDR_ASSIGN_OR_RETURN(Act xa, ex.Upload(xin_));
    SDR_ASSIGN_OR_RETURN(Act ta, UploadTimesteps(ex, t, batched_ ? 2 : 1));
    if (batched_) {
      SDR_ASSIGN_OR_RETURN(Act eps, ex.Captured("unet/pair", [&] { return unet.Forward(ex, xa, ta, ctx_); }));
      SDR_ASSIGN_OR_RETURN(Tensor both, ex.Download(eps));
      SDR_ASSIGN_OR_RETURN(*eps_c, Tensor::Allocate(DType::kF32, {1, eps.dim(1), eps.dim(2), eps.dim(3)}));
      SDR_ASSIGN_OR_RETURN(*eps_u, Tensor::Allocate(DType::kF32, eps_c->shape()));
      std::memcpy(eps_c->mutable_raw(), both.raw(), eps_c->nbytes());
      std::memcpy(eps_u->mutable_raw(), static_cast<const std::byte*>(both.raw()) + eps_c->nbytes(), eps_u->nbytes());
      *eval_s = Since(t0);
      return Status::Ok();
    }
    {
      SDR_ASSIGN_OR_RETURN(Act eps, ex.Captured("unet/cond", [&] { return unet.Forward(ex, xa, ta, ctx_); }));
      SDR_ASSIGN_OR_RETURN(*eps_c, ex.Download(eps));
    }
    *eval_s = Since(t0);
    if (guided_) {
      t0 = Clock::now();
      SDR_ASSIGN_OR_RETURN(Act eps, ex.Captured("unet/uncond", [&] { return unet.Forward(ex, xa, ta, ctx_u_); }));
      SDR_ASSIGN_OR_RETURN(*eps_u, ex.Download(eps));
      *eval_s = Since(t0);
    }
    return Status::Ok();
  }

 private:
  bool batched_ = false, guided_ = false;
  Act ctx_, ctx_u_;  // [2 or 1, L, C]
  Tensor xin_;       // [2 or 1, C, h, w] host
};

// x0 -> [1, 3, H, W] on the host (tiled or whole).
Result<Tensor> DecodeLatent(Executor& ex, const VaeDecoder& vae, const Tensor& x0, bool tiling) {
  if (tiling) return DecodeTiled(ex, vae, x0);
  SDR_ASSIGN_OR_RETURN(Act z, ex.Upload(x0));
  SDR_ASSIGN_OR_RETURN(Act img, vae.Decode(ex, z));
  return ex.Download(img);
}

Shape LatentShape(const SdModel& model, const GenerateParams& p) {
  return {1, model.unet().in_channels(), p.height / 8, p.width / 8};
}

// The dry run: every stage once, in the order and with the lifetimes Generate gives them (the
// UNet stage's text context stays live through every decode of a batch), on an arena with no
// memory behind it.
Result<MemoryPlan> Plan(const SdModel& model, const GenerateParams& p, const Prompts& prompts) {
  MemoryPlan plan;
  plan.batched_cfg = prompts.batched();
  Arena arena;
  Executor dry(model.backend(), nullptr, &arena);
  SDR_ASSIGN_OR_RETURN(Conditioning c, EncodeText(dry, model, prompts, p.clip_skip));
  plan.text = arena.high_water();
  const Shape latent = LatentShape(model, p);
  arena.ResetHighWater();
  SDR_ASSIGN_OR_RETURN(UnetStage unet, UnetStage::Start(dry, c, prompts.batched(), latent));
  SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Zeros(DType::kF32, latent));
  Tensor eps_c, eps_u;
  double eval_s = 0;
  SDR_RETURN_IF_ERROR(unet.Eval(dry, model.unet(), {x.data<float>(), static_cast<size_t>(x.numel())}, 1.0f, 500.0f,
                                &eps_c, &eps_u, &eval_s));
  plan.unet = arena.high_water();
  arena.ResetHighWater();
  SDR_RETURN_IF_ERROR(DecodeLatent(dry, model.vae(), x, p.vae_tiling).status());
  plan.decode = arena.high_water();
  plan.total = std::max({plan.text, plan.unet, plan.decode});
  return plan;
}

std::string Mb(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB"; }

}  // namespace

bool UseVaeTiling(const MemoryPlan& whole, const MemoryPlan& tiled, uint64_t available) {
  return whole.total > available && tiled.total < whole.total;
}

namespace {

// Samples one latent and decodes it.
class ImageRun {
 public:
  ImageRun(const SdModel& model, const GenerateParams& p, const Conditioning& c, UnetStage& unet, Executor& ex,
           const GenerateControl& control, const Dumper& dump, Clock::time_point start)
      : model_(model), p_(p), c_(c), unet_(unet), ex_(ex), control_(control), dump_(dump), start_(start) {}

  Result<GeneratedImage> Run(int index, uint64_t seed, StageTimings* timings) {
    auto t0 = Clock::now();
    project_ = index == 0;
    shape_ = LatentShape(model_, p_);
    n_ = NumElements(shape_);
    const std::vector<float> sigmas = MakeSigmas(schedule_, p_.scheduler, p_.steps);
    std::unique_ptr<NoiseGenerator> gen = MakeNoiseGenerator(p_.rng, seed);
    SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Allocate(DType::kF32, shape_));
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
    auto image = DecodeLatent(ex_, model_.vae(), x, p_.vae_tiling);
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
    const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    const float t = schedule_.SigmaToT(sigma);
    const bool cold = !model_.unet_warm();
    Tensor eps_c, eps_u;
    double eval_s = 0;  // one UNet evaluation (warm unless `cold` and unguided)
    SDR_RETURN_IF_ERROR(unet_.Eval(ex_, model_.unet(), xv, c_in, t, &eps_c, &eps_u, &eval_s));
    model_.MarkUnetWarm();
    const bool guided = unet_.guided();
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
  // change, rather than minutes later. (A batch-2 guided evaluation counts as one evaluation.)
  Status CheckProjection(double eval_s) const {
    const RunControl* run = control_.run;
    if (run == nullptr || !run->deadline()) return Status::Ok();
    const bool guided = unet_.guided();
    const int evals_per_call = guided && eval_s > 0 && !batched() ? 2 : 1;
    SDR_ASSIGN_OR_RETURN(const double decode_rate, DecodeRate());
    const double decode_s = model_.vae().DecodeFlops(shape_[2], shape_[3]) / decode_rate;
    const int calls = DenoiserCalls(p_.sampler, p_.steps);
    const int evals = calls * evals_per_call * p_.batch_count;
    const double remaining_s = (evals - evals_per_call * call_) * eval_s + decode_s * p_.batch_count;
    const double elapsed_s = Since(start_);
    const double call_s = eval_s * evals_per_call;
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

  bool batched() const { return unet_.guided() && c_.cond.dim(1) == c_.uncond.dim(1); }

  // The VAE decoder's FLOP rate: measured by an earlier decode on this model, else by a probe
  // (a tiny decode to page weights in, then a 64x64 one, timed).
  Result<double> DecodeRate() const {
    if (model_.decode_flops_per_s() > 0) return model_.decode_flops_per_s();
    const int64_t c = model_.vae().latent_channels();
    SDR_ASSIGN_OR_RETURN(Tensor warm, Tensor::Zeros(DType::kF32, {1, c, 2, 2}));
    SDR_RETURN_IF_ERROR(DecodeLatent(ex_, model_.vae(), warm, false).status());
    SDR_ASSIGN_OR_RETURN(Tensor probe, Tensor::Zeros(DType::kF32, {1, c, 8, 8}));
    const auto t0 = Clock::now();
    SDR_RETURN_IF_ERROR(DecodeLatent(ex_, model_.vae(), probe, false).status());
    const double rate = model_.vae().DecodeFlops(8, 8) / std::max(Since(t0), 1e-6);
    model_.RecordDecodeRate(rate);
    return rate;
  }

  const SdModel& model_;
  const GenerateParams& p_;
  const Conditioning& c_;
  UnetStage& unet_;
  Executor& ex_;
  const GenerateControl& control_;
  const Dumper& dump_;
  const Clock::time_point start_;
  bool project_ = false;  // check the timeout projection after the first call (first image only)
  const NoiseSchedule schedule_;
  Shape shape_;
  int64_t n_ = 0;
  int call_ = 0;
};

}  // namespace

Result<MemoryPlan> PlanGeneration(const SdModel& model, const GenerateParams& params) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  if (!model.has_unet()) return Unavailable("the UNet weights were released (SD_FREE_PARAMS)");
  SDR_ASSIGN_OR_RETURN(Prompts prompts, Tokenize(model, params));
  return Plan(model, params, prompts);
}

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params, const GenerateControl& control) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  if (!model.has_unet()) {
    return Unavailable("the UNet weights were released after an earlier generation (SD_FREE_PARAMS); reload the model");
  }
  const auto start = Clock::now();
  GenerateResult result;
  result.seed = params.seed < 0 ? RandomSeed() : static_cast<uint64_t>(params.seed);

  // Plan the activation memory, then reserve it: nothing heavy runs before both succeed.
  SDR_ASSIGN_OR_RETURN(Prompts prompts, Tokenize(model, params));
  SDR_ASSIGN_OR_RETURN(MemoryPlan plan, Plan(model, params, prompts));
  std::unique_ptr<DeviceScratch> own;
  DeviceScratch* scratch = control.scratch;
  if (scratch == nullptr) {
    SDR_ASSIGN_OR_RETURN(own, DeviceScratch::Create(model.backend_ptr()));
    scratch = own.get();
  }
  const Backend& backend = model.backend();
  const bool gpu = backend.info().device_memory;
  GenerateParams p = params;
  if (gpu && !p.vae_tiling) {
    // A GPU decodes in tiles when the whole-image decode would not fit its free VRAM.
    const uint64_t available = backend.bytes_available() + scratch->reserved();
    if (plan.total > available) {
      GenerateParams tiled = p;
      tiled.vae_tiling = true;
      SDR_ASSIGN_OR_RETURN(MemoryPlan tiled_plan, Plan(model, tiled, prompts));
      if (UseVaeTiling(plan, tiled_plan, available)) {
        p = tiled;
        plan = tiled_plan;
      }
    }
  }
  if (control.memory_budget_bytes > 0 && plan.total > control.memory_budget_bytes) {
    const std::string what = gpu ? "VRAM" : "activation memory";
    Status s = OutOfMemory("this generation needs " + Mb(plan.total) + " of " + what + " (text " + Mb(plan.text) +
                           ", UNet " + Mb(plan.unet) + ", decode " + Mb(plan.decode) + ") but the " +
                           (gpu ? "context's VRAM budget" : "memory budget") + " is " +
                           std::to_string(control.memory_budget_bytes) + " bytes");
    return gpu ? WithErrorCode(std::move(s), ErrorCode::kOutOfVram) : s;
  }
  if (Status s = scratch->Reserve(plan.total); !s.ok()) {
    s = s.WithContext("reserving " + Mb(plan.total) + " of activation memory on " + backend.info().name + " (" +
                      Mb(backend.bytes_available()) + " available)");
    return gpu ? WithErrorCode(std::move(s), ErrorCode::kOutOfVram) : s;
  }
  Executor ex(scratch->backend(), scratch->stream(), scratch->arena(), control.run);
  ex.set_profile(control.profile);
  ex.EnableCapture(scratch->captures());

  // Text conditioning, once for the whole batch.
  auto t0 = Clock::now();
  SDR_RETURN_IF_ERROR(CheckRun(control.run));
  SDR_ASSIGN_OR_RETURN(Conditioning c, EncodeText(ex, model, prompts, p.clip_skip));
  result.timings.text_s = Since(t0);

  SDR_ASSIGN_OR_RETURN(UnetStage unet, UnetStage::Start(ex, c, prompts.batched(), LatentShape(model, p)));
  for (int b = 0; b < p.batch_count; ++b) {
    const Dumper dump(b == 0 ? p.dump_dir : "");
    SDR_RETURN_IF_ERROR(dump.Write("cond_crossattn", c.cond));
    if (c.uncond.defined()) SDR_RETURN_IF_ERROR(dump.Write("uncond_crossattn", c.uncond));
    ImageRun run(model, p, c, unet, ex, control, dump, start);
    auto image = run.Run(b, result.seed + static_cast<uint64_t>(b), &result.timings);
    if (!image.ok()) {
      return p.batch_count > 1 ? image.status().WithContext("image " + std::to_string(b)) : image.status();
    }
    result.images.push_back(std::move(image).value());
  }
  return result;
}

}  // namespace sdr
