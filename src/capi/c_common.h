// Internal helpers of the C API's sources (sdr_c.cc, sdr_generator_c.cc): error reporting into
// sdr_error, the exception guard, and sdr_generate_params -> GenerateParams. Not installed.
#pragma once

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "runtime/errors.h"
#include "runtime/generate_params.h"
#include "runtime/tensor_rgb.h"
#include "runtime/txt2img.h"
#include "sdr/sdr.h"

namespace sdr::capi {

using sdr::ErrorCode;

static_assert(SDR_OK == static_cast<int>(ErrorCode::kOk));
static_assert(SDR_ERR_MODEL_LOAD_FAILED == static_cast<int>(ErrorCode::kModelLoadFailed));
static_assert(SDR_ERR_MODEL_NOT_FOUND == static_cast<int>(ErrorCode::kModelNotFound));
static_assert(SDR_ERR_INVALID_PARAMS == static_cast<int>(ErrorCode::kInvalidParams));
static_assert(SDR_ERR_GENERATION_FAILED == static_cast<int>(ErrorCode::kGenerationFailed));
static_assert(SDR_ERR_OUT_OF_MEMORY == static_cast<int>(ErrorCode::kOutOfMemory));
static_assert(SDR_ERR_GENERATION_TIMEOUT == static_cast<int>(ErrorCode::kGenerationTimeout));
static_assert(SDR_ERR_ACQUIRE_TIMEOUT == static_cast<int>(ErrorCode::kAcquireTimeout));
static_assert(SDR_ERR_CANCELLED == static_cast<int>(ErrorCode::kCancelled));
static_assert(SDR_ERR_POOL_CLOSED == static_cast<int>(ErrorCode::kPoolClosed));
static_assert(SDR_ERR_OUT_OF_VRAM == static_cast<int>(ErrorCode::kOutOfVram));
static_assert(SDR_ERR_UNAVAILABLE == static_cast<int>(ErrorCode::kUnavailable));
static_assert(SDR_ERR_AUTH_FAILED == static_cast<int>(ErrorCode::kAuthFailed));
static_assert(SDR_ERR_CONTENT_POLICY == static_cast<int>(ErrorCode::kContentPolicy));
static_assert(SDR_ERR_RATE_LIMITED == static_cast<int>(ErrorCode::kRateLimited));
static_assert(SDR_ERR_QUOTA_EXHAUSTED == static_cast<int>(ErrorCode::kQuotaExhausted));
static_assert(SDR_ERR_PROVIDER_ERROR == static_cast<int>(ErrorCode::kProviderError));
static_assert(SDR_ERR_IO == static_cast<int>(ErrorCode::kIoError));
static_assert(SDR_ERR_QUEUE_FULL == static_cast<int>(ErrorCode::kQueueFull));
static_assert(SDR_ERR_NOT_FOUND == static_cast<int>(ErrorCode::kNotFound));
static_assert(SDR_ERR_GONE == static_cast<int>(ErrorCode::kGone));
static_assert(SDR_ERR_UNAUTHORIZED == static_cast<int>(ErrorCode::kUnauthorized));
static_assert(SDR_ERR_PAYLOAD_TOO_LARGE == static_cast<int>(ErrorCode::kPayloadTooLarge));

// Writes (code, message) into *err when err is not NULL; returns code. The message is cut at a
// UTF-8 character boundary to fit.
inline sdr_error_code Report(sdr_error* err, sdr_error_code code, const std::string& message) {
  if (err == nullptr) return code;
  err->code = code;
  size_t n = std::min(message.size(), sizeof(err->message) - 1);
  // Back up over continuation bytes (10xxxxxx) so that a multi-byte character is not split.
  if (n < message.size()) {
    while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(err->message, message.data(), n);
  err->message[n] = '\0';
  return code;
}

inline sdr_error_code Ok(sdr_error* err) { return Report(err, SDR_OK, ""); }

inline sdr_error_code Invalid(sdr_error* err, const std::string& message) {
  return Report(err, SDR_ERR_INVALID_PARAMS, message);
}

inline sdr_error_code FromStatus(sdr_error* err, const sdr::Status& s, sdr::Operation op) {
  if (s.ok()) return Ok(err);
  return Report(err, static_cast<sdr_error_code>(sdr::ClassifyError(s, op)), s.ToString());
}

// Runs `body` (returning sdr_error_code) with every exception turned into an error code.
template <class F>
inline sdr_error_code Guard(sdr_error* err, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    try {
      return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (...) {
    }
  } catch (const std::exception& e) {
    try {
      return Report(err, SDR_ERR_GENERATION_FAILED, std::string("unexpected error: ") + e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  // Reporting itself failed (no memory for the message): the code alone.
  if (err != nullptr) {
    err->code = SDR_ERR_GENERATION_FAILED;
    std::strcpy(err->message, "unexpected error");
  }
  return SDR_ERR_GENERATION_FAILED;
}

inline std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }
inline bool Empty(const char* s) { return s == nullptr || *s == '\0'; }

// An optional sdr_image (NULL: left empty) -> RgbImage; InvalidArgument naming `field`.
inline sdr::Status ToRgbImage(const sdr_image* in, const char* field, sdr::RgbImage* out) {
  if (in == nullptr) return sdr::Status::Ok();
  const sdr_image& img = *in;
  if (img.data == nullptr || img.width <= 0 || img.height <= 0 || img.channels != 3 ||
      img.width > sdr::kMaxInputImageSide || img.height > sdr::kMaxInputImageSide) {
    return sdr::InvalidArgument(std::string(field) + " must be an RGB image (channels 3) of 1.." +
                                std::to_string(sdr::kMaxInputImageSide) + " pixels a side with data");
  }
  out->width = img.width;
  out->height = img.height;
  out->rgb.assign(img.data, img.data + static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
  return sdr::Status::Ok();
}

// sdr_generate_params -> GenerateParams; InvalidArgument naming an unknown name.
inline sdr::Status ToParams(const sdr_generate_params& c, sdr::GenerateParams* p) {
  p->prompt = Str(c.prompt);
  p->negative_prompt = Str(c.negative_prompt);
  p->width = c.width;
  p->height = c.height;
  p->steps = c.steps;
  p->cfg_scale = c.cfg_scale;
  if (!Empty(c.sampler)) {
    auto kind = sdr::ParseSamplerKind(c.sampler);
    if (!kind) {
      return sdr::InvalidArgument("unknown sampler '" + Str(c.sampler) + "' (" +
                                  sdr::JoinNames(sdr::AllSamplerKinds()) + ")");
    }
    p->sampler = *kind;
  }
  if (!Empty(c.scheduler)) {
    auto s = sdr::ParseScheduler(c.scheduler);
    if (!s) {
      return sdr::InvalidArgument("unknown scheduler '" + Str(c.scheduler) + "' (" +
                                  sdr::JoinNames(sdr::AllSchedulers()) + ")");
    }
    p->scheduler = *s;
  }
  p->seed = c.seed;
  if (!Empty(c.rng)) {
    auto r = sdr::ParseRngKind(c.rng);
    if (!r) return sdr::InvalidArgument("unknown rng '" + Str(c.rng) + "' (" + sdr::JoinNames(sdr::AllRngKinds()) + ")");
    p->rng = *r;
  }
  p->clip_skip = c.clip_skip;
  p->batch_count = c.batch_count;
  p->vae_tiling = c.vae_tiling != 0;
  p->strength = c.strength;
  p->mask_blur = c.mask_blur;
  p->lora_dir = Str(c.lora_dir);
  p->taesd_decode = c.taesd_decode != 0;
  SDR_RETURN_IF_ERROR(ToRgbImage(c.init_image, "init_image", &p->init_image));
  SDR_RETURN_IF_ERROR(ToRgbImage(c.mask, "mask", &p->mask));
  return sdr::ValidateParams(*p);
}

// The C progress and preview callbacks as one ProgressFn (empty when neither is set): progress
// first, then the step's preview when the runtime made one; either returning non-zero stops.
inline sdr::ProgressFn ToProgress(const sdr_generate_params& c) {
  if (c.progress == nullptr && c.preview == nullptr) return {};
  sdr_progress_fn fn = c.progress;
  void* user = c.progress_user;
  sdr_preview_fn preview = c.preview;
  void* preview_user = c.preview_user;
  auto rgb = std::make_shared<std::vector<uint8_t>>();  // reused from preview to preview
  return [fn, user, preview, preview_user, rgb](const sdr::StepProgress& p) {
    if (fn != nullptr && fn(p.image, p.step, p.total_steps, p.elapsed_s, user) != 0) return false;
    if (preview == nullptr || p.preview == nullptr) return true;
    sdr::ImageTensorToRgb8(*p.preview, rgb.get());
    sdr_image img{};
    img.width = static_cast<int>(p.preview->dim(3));
    img.height = static_cast<int>(p.preview->dim(2));
    img.channels = 3;
    img.data = rgb->data();
    return preview(p.image, p.step, p.total_steps, &img, preview_user) == 0;
  };
}

// The preview and TAESD settings checked against the model (InvalidArgument naming the field);
// *every = the preview interval the context should use (0 = no previews).
inline sdr::Status CheckPreview(const sdr_generate_params& c, bool model_has_taesd, int* every) {
  *every = 0;
  const char* kHint = ": the model was loaded without a TAESD decoder (sdr_model_params.taesd_path)";
  if (c.taesd_decode != 0 && !model_has_taesd) return sdr::InvalidArgument(std::string("taesd_decode") + kHint);
  if (c.preview == nullptr) return sdr::Status::Ok();
  if (c.preview_every < 0) {
    return sdr::InvalidArgument("preview_every " + std::to_string(c.preview_every) + " must be >= 0 (0 = every step)");
  }
  if (!model_has_taesd) return sdr::InvalidArgument(std::string("preview") + kHint);
  *every = c.preview_every == 0 ? 1 : c.preview_every;
  return sdr::Status::Ok();
}

}  // namespace sdr::capi
