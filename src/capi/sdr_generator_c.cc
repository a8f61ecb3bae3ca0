// The Generator part of the C API (include/sdr/sdr.h): sdr_generator over imagegen's Generator,
// chosen from the environment; sdr_cancel over a CancelToken; backend information.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "capi/c_common.h"
#include "imagegen/selection.h"
#include "runtime/config.h"
#include "runtime/system_info.h"
#include "sdr/sdr.h"

struct sdr_generator {
  std::unique_ptr<sdr::Generator> gen;
  std::string selection;  // reasons joined by '\n'
};

struct sdr_cancel {
  sdr::CancelToken token;
};

namespace {

using namespace sdr::capi;

// A malloc'ed NUL-terminated copy (never NULL on success).
char* CopyString(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// sdr_generate_params -> ImageRequest: 0 / NULL means the provider's default.
sdr::Status ToRequest(const sdr_generate_params& c, sdr::ImageRequest* r) {
  if (c.preview != nullptr || c.taesd_decode != 0) {
    return sdr::InvalidArgument(std::string(c.preview != nullptr ? "preview" : "taesd_decode") +
                                ": TAESD previews and decoding are offered through sdr_generate only (the "
                                "Generator has none)");
  }
  SDR_RETURN_IF_ERROR(ToRgbImage(c.init_image, "init_image", &r->init_image));
  SDR_RETURN_IF_ERROR(ToRgbImage(c.mask, "mask", &r->mask));
  r->strength = c.strength;
  r->mask_blur = c.mask_blur;
  r->prompt = Str(c.prompt);
  r->negative_prompt = Str(c.negative_prompt);
  r->width = c.width;
  r->height = c.height;
  r->n = c.batch_count == 0 ? 1 : c.batch_count;
  r->steps = c.steps;
  r->cfg_scale = c.cfg_scale > 0 ? c.cfg_scale : 0;
  if (!Empty(c.sampler)) {
    auto kind = sdr::ParseSamplerKind(c.sampler);
    if (!kind) {
      return sdr::InvalidArgument("unknown sampler '" + Str(c.sampler) + "' (" +
                                  sdr::JoinNames(sdr::AllSamplerKinds()) + ")");
    }
    r->sampler = *kind;
  }
  if (!Empty(c.scheduler)) {
    auto s = sdr::ParseScheduler(c.scheduler);
    if (!s) {
      return sdr::InvalidArgument("unknown scheduler '" + Str(c.scheduler) + "' (" +
                                  sdr::JoinNames(sdr::AllSchedulers()) + ")");
    }
    r->scheduler = *s;
  }
  if (!Empty(c.rng)) {
    auto k = sdr::ParseRngKind(c.rng);
    if (!k) return sdr::InvalidArgument("unknown rng '" + Str(c.rng) + "' (" + sdr::JoinNames(sdr::AllRngKinds()) + ")");
    r->rng = *k;
  }
  r->seed = c.seed;
  r->clip_skip = c.clip_skip;
  if (c.width < 0 || c.height < 0 || c.steps < 0 || c.clip_skip < 0 || c.batch_count < 0) {
    return sdr::InvalidArgument("width, height, steps, clip_skip and batch_count must not be negative");
  }
  return sdr::Status::Ok();
}

}  // namespace

extern "C" {

sdr_error_code sdr_generator_create_from_env(sdr_generator** out, sdr_error* err) {
  return Guard(err, [&] {
    if (out == nullptr) return Invalid(err, "sdr_generator_create_from_env: out is NULL");
    *out = nullptr;
    auto config = sdr::LoadConfigFromEnv(sdr::ProcessEnv());
    if (!config.ok()) return FromStatus(err, config.status(), sdr::Operation::kGenerate);
    auto gen = sdr::CreateGeneratorFromConfig(*config);
    if (!gen.ok()) return FromStatus(err, gen.status(), sdr::Operation::kLoadModel);
    if ((*gen)->provider_name() == "local") sdr::SetComputeThreads(config->threads);
    auto handle = std::make_unique<sdr_generator>();
    for (const std::string& r : (*gen)->selection_reasons()) handle->selection += (handle->selection.empty() ? "" : "\n") + r;
    handle->gen = std::move(gen).value();
    *out = handle.release();
    return Ok(err);
  });
}

void sdr_generator_free(sdr_generator* gen) {
  try {
    delete gen;  // the provider's destructor cancels and waits for requests in flight
  } catch (...) {
  }
}

const char* sdr_generator_provider_name(const sdr_generator* gen) {
  // The providers' names are string literals: NUL-terminated, static storage.
  return gen == nullptr ? "" : gen->gen->provider_name().data();
}

const char* sdr_generator_selection(const sdr_generator* gen) { return gen == nullptr ? "" : gen->selection.c_str(); }

sdr_error_code sdr_generator_ready(const sdr_generator* gen, sdr_error* err) {
  return Guard(err, [&] {
    if (gen == nullptr) return Invalid(err, "sdr_generator_ready: gen is NULL");
    return FromStatus(err, gen->gen->Ready(), sdr::Operation::kGenerate);
  });
}

sdr_generate_params sdr_generator_params_default(void) {
  sdr_generate_params p;
  std::memset(&p, 0, sizeof(p));
  p.seed = -1;
  p.batch_count = 1;
  return p;
}

sdr_cancel* sdr_cancel_create(void) { return new (std::nothrow) sdr_cancel(); }
void sdr_cancel_request(sdr_cancel* cancel) {
  if (cancel != nullptr) cancel->token.Cancel();
}
void sdr_cancel_free(sdr_cancel* cancel) { delete cancel; }

sdr_error_code sdr_generator_generate(sdr_generator* gen, const sdr_generate_params* params, sdr_cancel* cancel,
                                      sdr_png_image** images, size_t* count, sdr_error* err) {
  return Guard(err, [&] {
    if (gen == nullptr) return Invalid(err, "sdr_generator_generate: gen is NULL");
    if (params == nullptr) return Invalid(err, "sdr_generator_generate: params is NULL");
    if (images == nullptr || count == nullptr) return Invalid(err, "sdr_generator_generate: images or count is NULL");
    *images = nullptr;
    *count = 0;
    sdr::ImageRequest req;
    if (sdr::Status s = ToRequest(*params, &req); !s.ok()) return FromStatus(err, s, sdr::Operation::kGenerate);
    sdr::ImageProgressFn progress;
    if (params->progress != nullptr) {
      sdr_progress_fn fn = params->progress;
      void* user = params->progress_user;
      progress = [fn, user](const sdr::ImageProgress& p) {
        return fn(p.image, p.step, p.total_steps, p.elapsed_s, user) == 0;
      };
    }
    auto result = gen->gen->Generate(req, progress, cancel != nullptr ? &cancel->token : nullptr);
    if (!result.ok()) return FromStatus(err, result.status(), sdr::Operation::kGenerate);
    const size_t n = result->images.size();
    auto* arr = static_cast<sdr_png_image*>(std::calloc(n, sizeof(sdr_png_image)));
    if (arr == nullptr) return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the image array");
    for (size_t i = 0; i < n; ++i) {
      const sdr::GeneratedPng& img = result->images[i];
      arr[i].width = img.width;
      arr[i].height = img.height;
      arr[i].seed = img.seed;
      arr[i].png = static_cast<uint8_t*>(std::malloc(img.png.size() == 0 ? 1 : img.png.size()));
      arr[i].infotext = CopyString(img.infotext);
      arr[i].revised_prompt = CopyString(img.revised_prompt);
      if (arr[i].png == nullptr || arr[i].infotext == nullptr || arr[i].revised_prompt == nullptr) {
        sdr_png_images_free(arr, n);
        return Report(err, SDR_ERR_OUT_OF_MEMORY, "out of memory for the images");
      }
      std::memcpy(arr[i].png, img.png.data(), img.png.size());
      arr[i].png_size = img.png.size();
    }
    *images = arr;
    *count = n;
    return Ok(err);
  });
}

void sdr_png_images_free(sdr_png_image* images, size_t count) {
  if (images == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    std::free(images[i].png);
    std::free(images[i].infotext);
    std::free(images[i].revised_prompt);
  }
  std::free(images);
}

}  // extern "C"
