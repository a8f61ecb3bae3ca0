// The C API (include/sdr/sdr.h) over the C++ runtime: handles wrap SdModel / ContextPool /
// ContextLease, Status becomes sdr_error_code through ClassifyError, and every entry point is
// wrapped in Guard() so that no C++ exception crosses into C.
#include "sdr/sdr.h"

#include "capi/c_common.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "core/enum_names.h"
#include "runtime/context.h"
#include "runtime/errors.h"
#include "runtime/infotext.h"
#include "runtime/png_writer.h"
#include "runtime/sd_model.h"
#include "runtime/system_info.h"
#include "runtime/txt2img.h"

struct sdr_model {
  std::shared_ptr<const sdr::SdModel> model;
};

struct sdr_pool {
  std::unique_ptr<sdr::ContextPool> pool;
};

struct sdr_context {
  sdr::ContextLease lease;
};

namespace {

using namespace sdr::capi;
using sdr::ErrorCode;

// Runs a generation on ctx after converting and validating params.
sdr_error_code RunGenerate(sdr_context* ctx, const sdr_generate_params* params, sdr::GenerateResult* out,
                           sdr_error* err, int required_batch = 0) {
  if (ctx == nullptr) return Invalid(err, "sdr_generate: ctx is NULL");
  if (params == nullptr) return Invalid(err, "sdr_generate: params is NULL");
  sdr::GenerateParams p;
  if (sdr::Status s = ToParams(*params, &p); !s.ok()) return FromStatus(err, s, sdr::Operation::kGenerate);
  if (required_batch > 0 && p.batch_count != required_batch) {
    return Invalid(err, "batch_count " + std::to_string(p.batch_count) + " must be 1 for sdr_generate_into");
  }
  int preview_every = 0;
  if (sdr::Status s = CheckPreview(*params, ctx->lease->model().has_taesd(), &preview_every); !s.ok()) {
    return FromStatus(err, s, sdr::Operation::kGenerate);
  }
  ctx->lease->set_preview_every(preview_every);  // per generation: the context keeps it
  auto result = ctx->lease->Generate(p, ToProgress(*params));
  if (!result.ok()) return FromStatus(err, result.status(), sdr::Operation::kGenerate);
  *out = std::move(result).value();
  return Ok(err);
}

}  // namespace

extern "C" {

const char* sdr_error_code_name(sdr_error_code code) {
  if (code < SDR_OK || static_cast<size_t>(code) >= sdr::ErrorCodeTable().size()) return "unknown";
  // ErrorCodeName returns views of string literals: NUL-terminated, static storage.
  return sdr::ErrorCodeName(static_cast<ErrorCode>(code)).data();
}

const char* sdr_version(void) { return SDR_VERSION_STRING; }

const char* sdr_system_info(void) {
  static const std::string* info = []() -> const std::string* {
    try {
      const sdr::SystemInfo si = sdr::GetSystemInfo();
      std::string features;
      for (const std::string& f : si.cpu_features) features += (features.empty() ? "" : " ") + f;
      return new std::string(
          "sdruntime " SDR_VERSION_STRING " | CPU: " + (si.cpu_model.empty() ? std::string("unknown") : si.cpu_model) +
          " (" + (features.empty() ? std::string("no SIMD features of interest") : features) +
          ") | math: " + si.math_library + " | threads: " + std::to_string(si.default_threads) +
          (si.cuda_available
               ? " | CUDA: available (" + (si.gpus.empty() ? std::string("?") : si.gpus[0].name + ", " +
                                               std::to_string(si.gpus[0].cc_major) + "." +
                                               std::to_string(si.gpus[0].cc_minor)) + ")"
               : " | CUDA: not available (" + si.cuda_reason + ")"));
    } catch (...) {
      return nullptr;
    }
  }();
  return info != nullptr ? info->c_str() : "sdruntime " SDR_VERSION_STRING;
}

int sdr_cuda_available(void) {
  try {
    return sdr::IsCudaAvailable() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

char* sdr_backend_info(void) {
  try {
    const std::string text = sdr::FormatCudaInfo(sdr::GetSystemInfo());
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (out != nullptr) std::memcpy(out, text.c_str(), text.size() + 1);
    return out;
  } catch (...) {
    return nullptr;
  }
}

void sdr_free(void* ptr) { std::free(ptr); }

// ----- Model --------------------------------------------------------------------------------

sdr_model_params sdr_model_params_default(void) {
  sdr_model_params p;
  std::memset(&p, 0, sizeof(p));  // every field NULL
  return p;
}

sdr_error_code sdr_model_load(const sdr_model_params* params, sdr_model** out, sdr_error* err) {
  return Guard(err, [&] {
    if (params == nullptr) return Invalid(err, "sdr_model_load: params is NULL");
    if (out == nullptr) return Invalid(err, "sdr_model_load: out is NULL");
    *out = nullptr;
    if (Empty(params->model_path)) return Invalid(err, "sdr_model_load: model_path is empty");
    sdr::SdModelOptions opts;
    opts.model_path = params->model_path;
    opts.vae_path = Str(params->vae_path);
    opts.tokenizer_path = Str(params->tokenizer_path);
    if (!Empty(params->device)) opts.device = params->device;
    opts.taesd_path = Str(params->taesd_path);
    auto model = sdr::SdModel::Load(opts);
    if (!model.ok()) {
      // SdModel::Load tags its errors (model not found / load failed / out of memory).
      return FromStatus(err, model.status(), sdr::Operation::kLoadModel);
    }
    auto handle = std::make_unique<sdr_model>();
    handle->model = std::shared_ptr<const sdr::SdModel>(std::move(model).value());
    *out = handle.release();
    return Ok(err);
  });
}

void sdr_model_free(sdr_model* model) { delete model; }

// ----- Pool ---------------------------------------------------------------------------------

sdr_pool_params sdr_pool_params_default(void) {
  sdr::PoolOptions d;
  return sdr_pool_params{d.max_concurrent, d.context.memory_budget_bytes, d.context.timeout_s};
}

sdr_error_code sdr_pool_create(sdr_model* model, const sdr_pool_params* params, sdr_pool** out, sdr_error* err) {
  return Guard(err, [&] {
    if (model == nullptr) return Invalid(err, "sdr_pool_create: model is NULL");
    if (out == nullptr) return Invalid(err, "sdr_pool_create: out is NULL");
    *out = nullptr;
    const sdr_pool_params p = params != nullptr ? *params : sdr_pool_params_default();
    sdr::PoolOptions opts;
    opts.max_concurrent = p.max_concurrent;
    opts.context.memory_budget_bytes = p.memory_budget_bytes;
    opts.context.timeout_s = p.timeout_s;
    auto pool = sdr::ContextPool::Create(model->model, opts);
    if (!pool.ok()) return Invalid(err, pool.status().ToString());
    auto handle = std::make_unique<sdr_pool>();
    handle->pool = std::move(pool).value();
    *out = handle.release();
    return Ok(err);
  });
}

void sdr_pool_free(sdr_pool* pool) {
  if (pool == nullptr) return;
  try {
    pool->pool->Close(sdr::ContextPool::CloseMode::kCancel);
  } catch (...) {
    // Close only locks and waits; nothing here throws in practice. Free regardless.
  }
  delete pool;
}

int sdr_pool_available(const sdr_pool* pool) {
  if (pool == nullptr) return 0;
  try {
    return pool->pool->available();
  } catch (...) {
    return 0;
  }
}

sdr_error_code sdr_pool_acquire(sdr_pool* pool, int64_t timeout_ms, sdr_context** out, sdr_error* err) {
  return Guard(err, [&] {
    if (pool == nullptr) return Invalid(err, "sdr_pool_acquire: pool is NULL");
    if (out == nullptr) return Invalid(err, "sdr_pool_acquire: out is NULL");
    *out = nullptr;
    // Negative: wait indefinitely, in bounded slices (a huge wait_for would overflow the clock).
    constexpr std::chrono::milliseconds kSlice = std::chrono::hours(1);
    for (;;) {
      const std::chrono::milliseconds wait =
          timeout_ms < 0 ? kSlice : std::min(std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(kSlice));
      auto lease = pool->pool->Acquire(wait);
      if (lease.ok()) {
        auto handle = std::make_unique<sdr_context>();
        handle->lease = std::move(lease).value();
        *out = handle.release();
        return Ok(err);
      }
      const ErrorCode code = sdr::ClassifyError(lease.status(), sdr::Operation::kAcquire);
      if (code == ErrorCode::kAcquireTimeout && (timeout_ms < 0 || timeout_ms > wait.count())) {
        if (timeout_ms > 0) timeout_ms -= wait.count();
        continue;
      }
      return FromStatus(err, lease.status(), sdr::Operation::kAcquire);
    }
  });
}

void sdr_context_release(sdr_context* ctx) {
  try {
    delete ctx;  // the lease's destructor returns the context to its pool
  } catch (...) {
    // Only a failing mutex could throw here; nothing can be reported through a void function.
  }
}

void sdr_context_cancel(sdr_context* ctx) {
  if (ctx != nullptr) ctx->lease->Cancel();
}

// ----- Generation ---------------------------------------------------------------------------

sdr_generate_params sdr_generate_params_default(void) {
  sdr_generate_params p;
  std::memset(&p, 0, sizeof(p));
  const sdr::GenerateParams d;
  p.width = d.width;
  p.height = d.height;
  p.steps = d.steps;
  p.cfg_scale = d.cfg_scale;
  // ToString gives views of string literals: NUL-terminated, static storage.
  p.sampler = sdr::ToString(d.sampler).data();
  p.scheduler = sdr::ToString(d.scheduler).data();
  p.seed = d.seed;
  p.rng = sdr::ToString(d.rng).data();
  p.clip_skip = d.clip_skip;
  p.batch_count = d.batch_count;
  p.vae_tiling = d.vae_tiling ? 1 : 0;
  p.strength = d.strength;
  p.taesd_decode = d.taesd_decode ? 1 : 0;
  p.preview_every = 1;
  return p;
}

sdr_error_code sdr_generate(sdr_context* ctx, const sdr_generate_params* params, sdr_image** images, size_t* count,
                            sdr_error* err) {
  return Guard(err, [&] {
    if (images == nullptr || count == nullptr) return Invalid(err, "sdr_generate: images or count is NULL");
    *images = nullptr;
    *count = 0;
    sdr::GenerateResult result;
    if (sdr_error_code c = RunGenerate(ctx, params, &result, err); c != SDR_OK) return c;
    const size_t n = result.images.size();
    auto* arr = static_cast<sdr_image*>(std::calloc(n, sizeof(sdr_image)));
    if (arr == nullptr) return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the image array");
    for (size_t i = 0; i < n; ++i) {
      const sdr::GeneratedImage& img = result.images[i];
      arr[i].width = img.width();  // the image's own size, not the request's
      arr[i].height = img.height();
      arr[i].channels = 3;
      arr[i].seed = img.seed;
      arr[i].data = static_cast<uint8_t*>(std::malloc(img.rgb.size()));
      if (arr[i].data == nullptr) {
        sdr_images_free(arr, n);
        return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the image pixels");
      }
      std::memcpy(arr[i].data, img.rgb.data(), img.rgb.size());
    }
    *images = arr;
    *count = n;
    return Ok(err);
  });
}

void sdr_images_free(sdr_image* images, size_t count) {
  if (images == nullptr) return;
  for (size_t i = 0; i < count; ++i) std::free(images[i].data);
  std::free(images);
}

sdr_error_code sdr_generate_into(sdr_context* ctx, const sdr_generate_params* params, uint8_t* rgb_buffer,
                                 size_t buffer_size, uint64_t* out_seed, sdr_error* err) {
  return Guard(err, [&] {
    if (rgb_buffer == nullptr) return Invalid(err, "sdr_generate_into: rgb_buffer is NULL");
    if (params != nullptr && params->width > 0 && params->height > 0) {
      const uint64_t need = static_cast<uint64_t>(params->width) * static_cast<uint64_t>(params->height) * 3;
      if (buffer_size < need) {
        return Invalid(err, "buffer_size " + std::to_string(buffer_size) + " is smaller than " +
                                std::to_string(params->width) + "x" + std::to_string(params->height) +
                                "x3 = " + std::to_string(need) + " bytes");
      }
    }
    sdr::GenerateResult result;
    if (sdr_error_code c = RunGenerate(ctx, params, &result, err, /*required_batch=*/1); c != SDR_OK) return c;
    const sdr::GeneratedImage& img = result.images.at(0);
    if (img.rgb.size() > buffer_size) {  // unreachable after the checks above; never overrun
      return Report(err, SDR_ERR_GENERATION_FAILED, "image larger than the buffer");
    }
    std::memcpy(rgb_buffer, img.rgb.data(), img.rgb.size());
    if (out_seed != nullptr) *out_seed = img.seed;
    return Ok(err);
  });
}

// ----- Output helpers -----------------------------------------------------------------------

sdr_error_code sdr_infotext(const sdr_generate_params* params, uint64_t seed, char** out, sdr_error* err) {
  return Guard(err, [&] {
    if (params == nullptr || out == nullptr) return Invalid(err, "sdr_infotext: params or out is NULL");
    *out = nullptr;
    sdr::GenerateParams p;
    if (sdr::Status s = ToParams(*params, &p); !s.ok()) return FromStatus(err, s, sdr::Operation::kGenerate);
    const std::string text = sdr::FormatInfotext(sdr::MakeGenerationInfo(p, seed, p.width, p.height));
    char* buf = static_cast<char*>(std::malloc(text.size() + 1));
    if (buf == nullptr) return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the infotext");
    std::memcpy(buf, text.c_str(), text.size() + 1);
    *out = buf;
    return Ok(err);
  });
}

sdr_error_code sdr_image_encode_png(const sdr_image* image, const char* parameters, uint8_t** out_png,
                                    size_t* out_size, sdr_error* err) {
  return Guard(err, [&] {
    if (image == nullptr || out_png == nullptr || out_size == nullptr) {
      return Invalid(err, "sdr_image_encode_png: image, out_png or out_size is NULL");
    }
    *out_png = nullptr;
    *out_size = 0;
    if (image->data == nullptr) return Invalid(err, "sdr_image_encode_png: image data is NULL");
    if (image->channels != 3) {
      return Invalid(err, "sdr_image_encode_png: channels " + std::to_string(image->channels) + " must be 3");
    }
    sdr::PngTextChunks chunks;
    if (!Empty(parameters)) chunks.emplace_back("parameters", parameters);
    auto png = sdr::EncodePng(image->data, image->width, image->height, chunks);
    if (!png.ok()) {
      const sdr_error_code code = png.status().code() == sdr::StatusCode::kInvalidArgument ? SDR_ERR_INVALID_PARAMS
                                                                                           : SDR_ERR_GENERATION_FAILED;
      return Report(err, code, png.status().ToString());
    }
    auto* buf = static_cast<uint8_t*>(std::malloc(png->size() == 0 ? 1 : png->size()));
    if (buf == nullptr) return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the PNG bytes");
    std::memcpy(buf, png->data(), png->size());
    *out_png = buf;
    *out_size = png->size();
    return Ok(err);
  });
}

}  // extern "C"
