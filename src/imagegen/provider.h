// Provider: one source of images (the local engine, OpenAI, Azure OpenAI) behind one interface.
// The Generator (generator.h) owns one and adds validation, the concurrency limit and logging, so
// a provider only turns a valid ImageRequest into checked PNGs.
//
// Errors are Statuses tagged with their ErrorCode (runtime/errors.h) at the source, so that
// ClassifyError gives the application one vocabulary whatever the provider: invalid_params,
// model_*, out_of_memory, generation_timeout, acquire_timeout, cancelled, unavailable,
// auth_failed, content_policy, rate_limited, quota_exhausted, provider_error.
//
// Thread-safety: every method may be called from any number of threads at once.
#pragma once

#include <string_view>

#include "core/result.h"
#include "core/run_control.h"
#include "imagegen/image_request.h"

namespace sdr {

class Provider {
 public:
  virtual ~Provider() = default;

  // "local", "openai" or "azure".
  virtual std::string_view name() const = 0;

  // The sizes, n, samplers ... this provider accepts. Fixed for the provider's lifetime.
  virtual const ProviderCapabilities& capabilities() const = 0;

  // OK when the provider can take requests now (local: the pool is open; cloud: configured). It
  // sends nothing over the network: a cloud outage shows as `unavailable` on Generate.
  virtual Status Ready() const = 0;

  // Generates request.n images. `request` was validated against capabilities(). `progress` may be
  // empty; `cancel` may be null. The call ends within `timeout_s` seconds (<= 0: none), failing
  // with generation_timeout.
  virtual Result<ImageResult> Generate(const ImageRequest& request, const ImageProgressFn& progress,
                                       const CancelToken* cancel, double timeout_s) = 0;
};

}  // namespace sdr
