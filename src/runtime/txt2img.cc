#include "runtime/txt2img.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>

#include "core/log.h"
#include "formats/npy.h"
#include "runtime/errors.h"
#include "runtime/device_scratch.h"
#include "runtime/image_fit.h"
#include "runtime/inpaint_mask.h"
#include "runtime/tensor_rgb.h"
#include "tokenizer/lora_tags.h"
#include "runtime/vae_tiling.h"

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int64_t kInpaintExtraChannels = 5;  // inpainting UNets: mask (1) + masked-image latent (4)

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

// The text encoder and UNet a generation runs: the model's own, or those of the LoRA set its
// prompt names (merged once per set and cached by the model, runtime/sd_model.h).
struct Parts {
  const TextConditioner* text = nullptr;
  const UnetModel* unet = nullptr;
  std::shared_ptr<const LoraComponents> lora;  // keeps the LoRA set alive; null: none
  std::string prompt;                          // the prompt without its <lora:...> tags
};

Result<Parts> ResolveParts(const SdModel& model, const GenerateParams& p) {
  Parts parts;
  SDR_ASSIGN_OR_RETURN(LoraPrompt lp, ExtractLoraTags(p.prompt));
  parts.prompt = std::move(lp.prompt);
  std::vector<LoraRequest> requests;
  for (const LoraTag& tag : lp.loras) {
    if (p.lora_dir.empty()) {
      return InvalidArgument("the prompt asks for LoRA '" + tag.name +
                             "' but no LoRA folder is set (--lora-dir or SD_LORA_DIR)");
    }
    if (tag.name.find('/') != std::string::npos || tag.name.find("..") != std::string::npos) {
      return InvalidArgument("LoRA name '" + tag.name + "' must be a file name in the LoRA folder");
    }
    requests.push_back({p.lora_dir + "/" + tag.name + ".safetensors", tag.weight});
  }
  auto lora = model.WithLoras(requests);
  if (!lora.ok()) return lora.status().WithContext("applying LoRAs");
  parts.lora = std::move(lora).value();
  parts.text = parts.lora ? parts.lora->conditioner.get() : &model.conditioner();
  parts.unet = parts.lora ? parts.lora->unet.get() : &model.unet();
  return parts;
}

Result<Prompts> Tokenize(const Parts& parts, const GenerateParams& p) {
  Prompts t;
  t.guided = p.cfg_scale != 1.0f;
  auto c = parts.text->Tokenize(parts.prompt);
  if (!c.ok()) return c.status().WithContext("encoding the prompt");
  t.cond = std::move(c).value();
  if (t.guided) {
    auto u = parts.text->Tokenize(p.negative_prompt);
    if (!u.ok()) return u.status().WithContext("encoding the negative prompt");
    t.uncond = std::move(u).value();
  }
  return t;
}

struct Conditioning {
  Tensor cond, uncond;  // [1, 77k, C] on the host; uncond undefined when not guided
};

Result<Conditioning> EncodeText(Executor& ex, const Parts& parts, const Prompts& t, int clip_skip) {
  Conditioning c;
  auto cond = parts.text->Encode(ex, t.cond, clip_skip);
  if (!cond.ok()) return cond.status().WithContext("encoding the prompt");
  c.cond = std::move(cond).value();
  if (t.guided) {
    auto u = parts.text->Encode(ex, t.uncond, clip_skip);
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
  // extra: [1, E, h, w] inputs concatenated after the latent (inpainting UNets: mask and
  // masked-image latent), or undefined.
  static Result<UnetStage> Start(Executor& ex, const Conditioning& c, bool batched, const Shape& latent,
                                 const Tensor& extra = Tensor()) {
    UnetStage s;
    s.extra_ = extra;
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
    if (extra.defined()) in[1] += extra.dim(1);
    SDR_ASSIGN_OR_RETURN(s.xin_, Tensor::Allocate(DType::kF32, in));
    return s;
  }

  bool guided() const { return guided_; }

  // eps for x * c_in at timestep t: cond into eps_c; uncond (when guided) into eps_u. eval_s
  // receives the time of the last UNet evaluation (warm when the pair ran as two).
  Status Eval(Executor& ex, const UnetModel& unet, std::span<const float> x, float c_in, float t, Tensor* eps_c,
              Tensor* eps_u, double* eval_s) {
    const int64_t n = static_cast<int64_t>(x.size());
    const int64_t m = n + (extra_.defined() ? extra_.numel() : 0);  // one sample's inputs
    float* in = xin_.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) in[i] = x[static_cast<size_t>(i)] * c_in;
    if (extra_.defined()) std::memcpy(in + n, extra_.data<float>(), static_cast<size_t>(m - n) * sizeof(float));
    if (batched_) std::memcpy(in + m, in, static_cast<size_t>(m) * sizeof(float));
    auto t0 = Clock::now();
    // The input and the timesteps go up first; the evaluation itself then reads nothing from the
    // host, so on a GPU it is one CUDA graph, recorded once and replayed every step.
    SDR_ASSIGN_OR_RETURN(Act xa, ex.Upload(xin_));
    SDR_ASSIGN_OR_RETURN(Act ta, UploadTimesteps(ex, t, batched_ ? 2 : 1));
    if (batched_) {
      SDR_ASSIGN_OR_RETURN(Act eps, ex.Captured("unet/pair", [&] {
        return unet.Forward(ex, xa, ta, ctx_, UnetBatch::kSharedInput);  // both rows of xin_ and ta alike
      }));
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
  Tensor extra_;     // [1, E, h, w] host, or undefined
  Tensor xin_;       // [2 or 1, C + E, h, w] host
};

// x0 -> [1, 3, H, W] on the host with the TAESD (tanh-clamped first).
Result<Tensor> DecodeTaesd(Executor& ex, const TaesdDecoder& taesd, const Tensor& x0) {
  SDR_ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(DType::kF32, x0.shape()));
  std::copy(x0.data<float>(), x0.data<float>() + x0.numel(), z.mutable_data<float>());
  TaesdDecoder::ClampLatent({z.mutable_data<float>(), static_cast<size_t>(z.numel())});
  SDR_ASSIGN_OR_RETURN(Act za, ex.Upload(z));
  SDR_ASSIGN_OR_RETURN(Act img, taesd.Decode(ex, za));
  return ex.Download(img);
}

// x0 -> [1, 3, H, W] on the host (tiled or whole).
Result<Tensor> DecodeLatent(Executor& ex, const VaeDecoder& vae, const Tensor& x0, bool tiling) {
  if (tiling) return DecodeTiled(ex, vae, x0);
  SDR_ASSIGN_OR_RETURN(Act z, ex.Upload(x0));
  SDR_ASSIGN_OR_RETURN(Act img, vae.Decode(ex, z));
  return ex.Download(img);
}

Shape LatentShape(const SdModel& model, const GenerateParams& p) {
  return {1, model.unet().latent_channels(), p.height / 8, p.width / 8};
}

// The dry run: every stage once, in the order and with the lifetimes Generate gives them (the
// UNet stage's text context stays live through every decode of a batch), on an arena with no
// memory behind it.
Result<MemoryPlan> Plan(const SdModel& model, const Parts& parts, const GenerateParams& p, const Prompts& prompts) {
  MemoryPlan plan;
  plan.batched_cfg = prompts.batched();
  Arena arena;
  Executor dry(model.backend(), nullptr, &arena);
  SDR_ASSIGN_OR_RETURN(Conditioning c, EncodeText(dry, parts, prompts, p.clip_skip));
  plan.text = arena.high_water();
  if (!p.init_image.empty()) {
    arena.ResetHighWater();
    SDR_ASSIGN_OR_RETURN(Act image, dry.Alloc({1, 3, p.height, p.width}));
    SDR_RETURN_IF_ERROR(model.vae_encoder().Encode(dry, image).status());
    plan.encode = arena.high_water();
  }
  const Shape latent = LatentShape(model, p);
  arena.ResetHighWater();
  Tensor extra;
  if (model.is_inpainting()) {
    SDR_ASSIGN_OR_RETURN(extra, Tensor::Zeros(DType::kF32, {1, kInpaintExtraChannels, latent[2], latent[3]}));
  }
  SDR_ASSIGN_OR_RETURN(UnetStage unet, UnetStage::Start(dry, c, prompts.batched(), latent, extra));
  SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Zeros(DType::kF32, latent));
  Tensor eps_c, eps_u;
  double eval_s = 0;
  SDR_RETURN_IF_ERROR(unet.Eval(dry, *parts.unet, {x.data<float>(), static_cast<size_t>(x.numel())}, 1.0f, 500.0f,
                                &eps_c, &eps_u, &eval_s));
  if (model.has_taesd()) {  // previews decode while the UNet stage is live
    SDR_ASSIGN_OR_RETURN(Act z, dry.Alloc(latent));
    SDR_RETURN_IF_ERROR(model.taesd().Decode(dry, z).status());
  }
  plan.unet = arena.high_water();
  arena.ResetHighWater();
  if (p.taesd_decode) {
    SDR_RETURN_IF_ERROR(DecodeTaesd(dry, model.taesd(), x).status());
  } else {
    SDR_RETURN_IF_ERROR(DecodeLatent(dry, model.vae(), x, p.vae_tiling).status());
  }
  plan.decode = arena.high_water();
  plan.total = std::max({plan.text, plan.encode, plan.unet, plan.decode});
  return plan;
}

std::string Mb(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB"; }

}  // namespace

bool UseVaeTiling(const MemoryPlan& whole, const MemoryPlan& tiled, uint64_t available) {
  return whole.total > available && tiled.total < whole.total;
}

namespace {
// What img2img and inpainting start from, made once per request (the batch shares it).
struct InitState {
  Tensor pixels;       // [1, 3, H, W] in [0, 1]: the init image fitted to the request's size
  Tensor latent;       // [1, C, h, w]: its latent (scaled by 0.18215)
  bool masked = false;
  InpaintMask mask;    // when masked
  Tensor blend;        // [1, 1, h, w] when masked: D = D * blend + latent * (1 - blend) after each call
  Tensor unet_extra;   // [1, 5, h, w] for inpainting UNets: latent mask, masked-image latent
};

// image [1, 3, H, W] in [0, 1] -> its latent: the encoder's moments sampled with the next draw
// of `gen`, times 0.18215.
Result<Tensor> EncodeImage(Executor& ex, const SdModel& model, const Tensor& pixels, NoiseGenerator& gen,
                           Tensor* moments_out) {
  Tensor moments;  // [1, 2C, H/8, W/8]
  {
    SDR_ASSIGN_OR_RETURN(Act x, ex.Upload(pixels));
    SDR_ASSIGN_OR_RETURN(Act m, model.vae_encoder().Encode(ex, x));
    SDR_ASSIGN_OR_RETURN(moments, ex.Download(m));
  }
  std::vector<float> noise(static_cast<size_t>(moments.numel() / 2));
  gen.Randn(noise);
  if (moments_out != nullptr) *moments_out = moments;
  return MomentsToLatent(moments, noise);
}

// The init image fitted to the request's size, encoded to the VAE's moments, sampled with the
// generation's RNG seeded with the base seed (stable-diffusion.cpp seeds its RNG, encodes, then
// reseeds per image before drawing the noise, so the encoder's draw equals image 0's initial
// noise), times 0.18215. With a mask: the masks (runtime/inpaint_mask.h) and, for inpainting
// UNets, the masked image encoded with the same RNG's next draw.
Result<InitState> PrepareInit(Executor& ex, const SdModel& model, const GenerateParams& p, uint64_t seed,
                              const Dumper& dump) {
  InitState init;
  SDR_ASSIGN_OR_RETURN(RgbImage fitted, FitImage(p.init_image, p.width, p.height));
  SDR_ASSIGN_OR_RETURN(init.pixels, ImageToTensor(fitted));
  std::unique_ptr<NoiseGenerator> gen = MakeNoiseGenerator(p.rng, seed);
  Tensor moments;
  SDR_ASSIGN_OR_RETURN(init.latent, EncodeImage(ex, model, init.pixels, *gen, &moments));
  SDR_RETURN_IF_ERROR(dump.Write("init_image", init.pixels));
  SDR_RETURN_IF_ERROR(dump.Write("init_moments", moments));
  SDR_RETURN_IF_ERROR(dump.Write("init_latent", init.latent));
  if (p.mask.empty()) return init;
  init.masked = true;
  SDR_ASSIGN_OR_RETURN(init.mask, MakeInpaintMask(p.mask, p.width, p.height, p.mask_blur));
  init.blend = init.mask.latent;
  if (model.is_inpainting()) {
    SDR_ASSIGN_OR_RETURN(init.blend, DilateMask(init.mask.latent));
    SDR_ASSIGN_OR_RETURN(Tensor masked_pixels, MaskedImage(init.pixels, init.mask));
    SDR_ASSIGN_OR_RETURN(Tensor masked, EncodeImage(ex, model, masked_pixels, *gen, nullptr));
    const Tensor& lm = init.mask.latent;
    SDR_ASSIGN_OR_RETURN(init.unet_extra,
                         Tensor::Allocate(DType::kF32, {1, kInpaintExtraChannels, lm.dim(2), lm.dim(3)}));
    std::memcpy(init.unet_extra.mutable_raw(), lm.raw(), lm.nbytes());
    std::memcpy(static_cast<std::byte*>(init.unet_extra.mutable_raw()) + lm.nbytes(), masked.raw(), masked.nbytes());
    SDR_RETURN_IF_ERROR(dump.Write("masked_latent", masked));
  }
  SDR_RETURN_IF_ERROR(dump.Write("latent_mask", init.blend));
  return init;
}

// Samples one latent and decodes it.
class ImageRun {
 public:
  // init: img2img / inpainting's start (null: text to image).
  ImageRun(const SdModel& model, const UnetModel& unet_model, const GenerateParams& p, const Conditioning& c,
           UnetStage& unet, Executor& ex,
           const GenerateControl& control, const Dumper& dump, Clock::time_point start, const InitState* init)
      : model_(model), unet_model_(unet_model), p_(p), c_(c), unet_(unet), ex_(ex), control_(control), dump_(dump), start_(start),
        init_(init) {}

  Result<GeneratedImage> Run(int index, uint64_t seed, StageTimings* timings) {
    auto t0 = Clock::now();
    project_ = index == 0;
    shape_ = LatentShape(model_, p_);
    n_ = NumElements(shape_);
    std::vector<float> sigmas = MakeSigmas(schedule_, p_.scheduler, p_.steps);
    if (init_ != nullptr) sigmas = Img2ImgSigmas(sigmas, p_.strength);
    steps_run_ = static_cast<int>(sigmas.size()) - 1;
    std::unique_ptr<NoiseGenerator> gen = MakeNoiseGenerator(p_.rng, seed);
    SDR_ASSIGN_OR_RETURN(Tensor x, Tensor::Allocate(DType::kF32, shape_));
    std::span<float> xs(x.mutable_data<float>(), static_cast<size_t>(n_));
    gen->Randn(xs);
    SDR_RETURN_IF_ERROR(dump_.Write("noise", x));
    SDR_RETURN_IF_ERROR(dump_.Write("sigmas", sigmas, {static_cast<int64_t>(sigmas.size())}));
    // img2img: x_T = init_latent + noise * sigma_0. With a mask and inpainting_fill latent noise /
    // latent nothing, the masked cells of init_latent are the noise draw itself / zero (A1111).
    const InpaintingFill fill =
        init_ != nullptr && init_->masked ? p_.inpainting_fill : InpaintingFill::kOriginal;
    const float* z = init_ != nullptr ? init_->latent.data<float>() : nullptr;
    const float* m = fill != InpaintingFill::kOriginal ? init_->mask.latent.data<float>() : nullptr;  // 1 = repaint
    const int64_t plane = m != nullptr ? init_->mask.latent.numel() : 1;
    for (int64_t i = 0; i < n_; ++i) {
      const float eps = xs[static_cast<size_t>(i)];
      float start = z != nullptr ? z[i] : 0.0f;
      if (m != nullptr) {
        const float r = m[i % plane];
        start = start * (1.0f - r) + (fill == InpaintingFill::kLatentNoise ? eps * r : 0.0f);
      }
      xs[static_cast<size_t>(i)] = eps * sigmas[0] + start;
    }
    SDR_RETURN_IF_ERROR(dump_.Write("x_T", x));

    const Denoiser denoiser = [this](std::span<const float> xv, float sigma, std::span<float> out) {
      return Denoise(xv, sigma, out);
    };
    const NoiseSource noise = [&](std::span<float> out) { gen->Randn(out); };
    const StepCallback on_step = [&](int step, int total, std::span<const float> xv) {
      if (!control_.progress) return true;
      Tensor preview;
      double preview_s = 0;
      if (control_.preview_every > 0 && model_.has_taesd() && step % control_.preview_every == 0 &&
          !last_denoised_.empty()) {
        const auto p0 = Clock::now();
        auto pv = Preview();
        if (pv.ok()) {
          preview = std::move(pv).value();
          preview_s = Since(p0);
          timings->preview_s += preview_s;
          ++timings->previews;
        } else {
          SDR_LOG_WARN("TAESD preview failed: {}", pv.status().ToString());
        }
      }
      return control_.progress(
          {index, step, total, Since(start_), xv, preview.defined() ? &preview : nullptr, preview_s});
    };
    SDR_RETURN_IF_ERROR(CheckRun(control_.run));
    SDR_RETURN_IF_ERROR(Sample(p_.sampler, denoiser, sigmas, xs, noise, on_step));
    timings->sampling_s += Since(t0);
    if (index + 1 == p_.batch_count) {
      model_.ReleaseStagePages(SdModel::Stage::kUnet);
      if (control_.after_sampling) control_.after_sampling();
    }
    SDR_RETURN_IF_ERROR(dump_.Write("x0", x));
    if (dump_.enabled()) {
      SDR_ASSIGN_OR_RETURN(Tensor scaled, Tensor::Allocate(DType::kF32, shape_));
      for (int64_t i = 0; i < n_; ++i) scaled.mutable_data<float>()[i] = x.data<float>()[i] / VaeDecoder::kLatentScale;
      SDR_RETURN_IF_ERROR(dump_.Write("latent_to_vae", scaled));
    }

    t0 = Clock::now();
    GeneratedImage out;
    out.seed = seed;
    auto image = p_.taesd_decode ? DecodeTaesd(ex_, model_.taesd(), x) : DecodeLatent(ex_, model_.vae(), x, p_.vae_tiling);
    if (!image.ok()) return image.status().WithContext("decoding");
    out.image = std::move(image).value();
    if (init_ != nullptr && init_->masked) OverlayInit(init_->pixels, init_->mask, &out.image);
    const double decode_s = Since(t0);
    timings->decode_s += decode_s;
    if (!p_.vae_tiling && !p_.taesd_decode && decode_s > 0) model_.RecordDecodeRate(model_.vae().DecodeFlops(shape_[2], shape_[3]) / decode_s);
    if (index + 1 == p_.batch_count) model_.ReleaseStagePages(SdModel::Stage::kVae);
    SDR_RETURN_IF_ERROR(dump_.Write("decoded", out.image));
    ImageTensorToRgb8(out.image, &out.rgb);
    return out;
  }

 private:
  // The TAESD decode of the last denoised estimate: [1, 3, H, W] in [0, 1].
  Result<Tensor> Preview() {
    SDR_ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(DType::kF32, shape_));
    std::copy(last_denoised_.begin(), last_denoised_.end(), z.mutable_data<float>());
    TaesdDecoder::ClampLatent({z.mutable_data<float>(), static_cast<size_t>(z.numel())});
    SDR_ASSIGN_OR_RETURN(Act za, ex_.Upload(z));
    SDR_ASSIGN_OR_RETURN(Act img, model_.taesd().Decode(ex_, za));
    return ex_.Download(img);
  }

  // D(x, sigma) with classifier-free guidance.
  Status Denoise(std::span<const float> xv, float sigma, std::span<float> out) {
    SDR_RETURN_IF_ERROR(CheckRun(control_.run));
    const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    const float t = schedule_.SigmaToT(sigma);
    const bool cold = !model_.unet_warm();
    Tensor eps_c, eps_u;
    double eval_s = 0;  // one UNet evaluation (warm unless `cold` and unguided)
    SDR_RETURN_IF_ERROR(unet_.Eval(ex_, unet_model_, xv, c_in, t, &eps_c, &eps_u, &eval_s));
    model_.MarkUnetWarm();
    const bool guided = unet_.guided();
    const float* ec = eps_c.data<float>();
    const float* eu = guided ? eps_u.data<float>() : nullptr;
    for (int64_t i = 0; i < n_; ++i) {
      const float eps = guided ? eu[i] + p_.cfg_scale * (ec[i] - eu[i]) : ec[i];
      out[static_cast<size_t>(i)] = xv[static_cast<size_t>(i)] - sigma * eps;
    }
    if (init_ != nullptr && init_->masked) {  // inpainting: keep the init latent outside the mask
      const float* m = init_->blend.data<float>();
      const float* z = init_->latent.data<float>();
      const int64_t hw = init_->blend.numel();
      for (int64_t i = 0; i < n_; ++i) {
        const float k = m[i % hw];
        out[static_cast<size_t>(i)] = out[static_cast<size_t>(i)] * k + z[i] * (1.0f - k);
      }
    }
    if (control_.preview_every > 0 && model_.has_taesd()) last_denoised_.assign(out.begin(), out.end());
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
    const int calls = DenoiserCalls(p_.sampler, steps_run_);
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
  const UnetModel& unet_model_;  // the model's, or its LoRA set's
  const GenerateParams& p_;
  const Conditioning& c_;
  UnetStage& unet_;
  Executor& ex_;
  const GenerateControl& control_;
  const Dumper& dump_;
  const Clock::time_point start_;
  const InitState* init_;
  int steps_run_ = 0;
  std::vector<float> last_denoised_;  // the last D(x), for TAESD previews  // sampler steps of this image's schedule (fewer than p_.steps for img2img)
  bool project_ = false;  // check the timeout projection after the first call (first image only)
  const NoiseSchedule schedule_;
  Shape shape_;
  int64_t n_ = 0;
  int call_ = 0;
};

// InvalidArgument when the request needs a part the model lacks.
Status CheckModelFits(const SdModel& model, const GenerateParams& p) {
  if (model.is_inpainting() && p.mask.empty()) {
    return InvalidArgument("this is an inpainting UNet (9 input channels): give an init image and a mask "
                           "(--init-image and --mask; init_image and mask in the APIs)");
  }
  if (p.taesd_decode && !model.has_taesd()) {
    return InvalidArgument("taesd_decode: the model was loaded without a TAESD decoder (--taesd / SD_TAESD_PATH)");
  }
  if (!p.init_image.empty() && !model.has_vae_encoder()) {
    return InvalidArgument("init_image: this model's VAE has no encoder (a decoder-only file), so it cannot encode an "
                           "init image; give a full VAE (--vae / SD_VAE_PATH)");
  }
  return Status::Ok();
}

}  // namespace

Result<MemoryPlan> PlanGeneration(const SdModel& model, const GenerateParams& params) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  SDR_RETURN_IF_ERROR(CheckModelFits(model, params));
  if (!model.has_unet()) return Unavailable("the UNet weights were released (SD_FREE_PARAMS)");
  SDR_ASSIGN_OR_RETURN(Parts parts, ResolveParts(model, params));
  SDR_ASSIGN_OR_RETURN(Prompts prompts, Tokenize(parts, params));
  return Plan(model, parts, params, prompts);
}

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params, const GenerateControl& control) {
  SDR_RETURN_IF_ERROR(ValidateParams(params));
  SDR_RETURN_IF_ERROR(CheckModelFits(model, params));
  if (!model.has_unet()) {
    return Unavailable("the UNet weights were released after an earlier generation (SD_FREE_PARAMS); reload the model");
  }
  const auto start = Clock::now();
  const SdModel::GenerationScope running(model);
  GenerateResult result;
  result.seed = params.seed < 0 ? RandomSeed() : static_cast<uint64_t>(params.seed);

  // Plan the activation memory, then reserve it: nothing heavy runs before both succeed.
  SDR_ASSIGN_OR_RETURN(Parts parts, ResolveParts(model, params));
  SDR_ASSIGN_OR_RETURN(Prompts prompts, Tokenize(parts, params));
  SDR_ASSIGN_OR_RETURN(MemoryPlan plan, Plan(model, parts, params, prompts));
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
      SDR_ASSIGN_OR_RETURN(MemoryPlan tiled_plan, Plan(model, parts, tiled, prompts));
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
  SDR_ASSIGN_OR_RETURN(Conditioning c, EncodeText(ex, parts, prompts, p.clip_skip));
  result.timings.text_s = Since(t0);
  model.ReleaseStagePages(SdModel::Stage::kText);  // each stage's weights resident only while it runs

  std::optional<InitState> init;  // img2img / inpainting; none for text to image
  if (!p.init_image.empty()) {
    t0 = Clock::now();
    SDR_RETURN_IF_ERROR(CheckRun(control.run));
    auto z = PrepareInit(ex, model, p, result.seed, Dumper(p.dump_dir));
    if (!z.ok()) return z.status().WithContext("encoding the init image");
    init = std::move(z).value();
    result.timings.encode_s = Since(t0);
  }

  SDR_ASSIGN_OR_RETURN(UnetStage unet, UnetStage::Start(ex, c, prompts.batched(), LatentShape(model, p),
                                                        init ? init->unet_extra : Tensor()));
  for (int b = 0; b < p.batch_count; ++b) {
    const Dumper dump(b == 0 ? p.dump_dir : "");
    SDR_RETURN_IF_ERROR(dump.Write("cond_crossattn", c.cond));
    if (c.uncond.defined()) SDR_RETURN_IF_ERROR(dump.Write("uncond_crossattn", c.uncond));
    ImageRun run(model, *parts.unet, p, c, unet, ex, control, dump, start, init ? &*init : nullptr);
    auto image = run.Run(b, result.seed + static_cast<uint64_t>(b), &result.timings);
    if (!image.ok()) {
      return p.batch_count > 1 ? image.status().WithContext("image " + std::to_string(b)) : image.status();
    }
    result.images.push_back(std::move(image).value());
  }
  return result;
}

}  // namespace sdr
