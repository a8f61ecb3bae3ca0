// Generator: the one entry point for images. It owns one Provider (the local engine, OpenAI or
// Azure OpenAI: selection.h chooses it from the configuration) and adds what every source needs:
// request validation against the provider's capabilities, a limit on requests in flight
// (SD_MAX_CONCURRENT, cloud too), the per-request timeout (SD_TIMEOUT_SECONDS) and one structured
// log line per request (provider, size, n, steps, seconds, outcome).
//
//   auto gen = CreateGeneratorFromConfig(*LoadConfigFromEnv());   // selection.h
//   if (!gen.ok()) { /* ClassifyError(gen.status(), Operation::kLoadModel) ... */ }
//   ImageRequest req;
//   req.prompt = "a photo of a cat";
//   auto result = (*gen)->Generate(req);              // Result<ImageResult>
//   if (!result.ok()) switch (ClassifyError(result.status())) { case ErrorCode::kRateLimited: ... }
//   WriteFileAtomically("cat.png", result->images[0].png);
//
// Errors: invalid_params (validation, before any work), acquire_timeout (no slot within
// acquire_timeout_s), cancelled, and whatever the provider reports (provider.h).
//
// Thread-safety: Generate may be called from any number of threads; at most max_concurrent run
// at once, the others wait for a slot. The Generator must outlive its calls.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "imagegen/provider.h"
#include "runtime/errors.h"
#include "runtime/generate_params.h"

namespace sdr {

// One finished request, as logged (and handed to GeneratorOptions::on_request).
struct RequestRecord {
  std::string provider;
  int width = 0, height = 0;  // pixels requested (the provider's default when the request gave none)
  int n = 0;
  int steps = 0;              // as requested; 0 = the provider's default
  double seconds = 0;         // wall time including the wait for a slot
  ErrorCode outcome = ErrorCode::kOk;
  std::string message;        // the error's text ("" on success)
};

// "imagegen provider=openai size=1024x1024 n=1 steps=default seconds=1.52 outcome=ok"
// (+ " error=\"...\"" on failure): key=value pairs, one line.
std::string FormatRequestRecord(const RequestRecord& record);

struct GeneratorOptions {
  int max_concurrent = kDefaultMaxConcurrent;     // requests in flight (SD_MAX_CONCURRENT), 1..64
  double timeout_s = kDefaultTimeoutSeconds;      // per request, provider call (SD_TIMEOUT_SECONDS); <= 0 = none
  double acquire_timeout_s = kDefaultTimeoutSeconds;  // wait for a slot before acquire_timeout; <= 0 = no wait
  std::function<void(const RequestRecord&)> on_request;  // optional: called after each request (any thread)
};

class Generator {
 public:
  // InvalidArgument for a null provider or options out of range.
  static Result<std::unique_ptr<Generator>> Create(std::unique_ptr<Provider> provider, GeneratorOptions options);

  Result<ImageResult> Generate(const ImageRequest& request, const ImageProgressFn& progress = {},
                               const CancelToken* cancel = nullptr);

  std::string_view provider_name() const { return provider_->name(); }
  const ProviderCapabilities& capabilities() const { return provider_->capabilities(); }
  Status Ready() const { return provider_->Ready(); }
  const Provider& provider() const { return *provider_; }
  const GeneratorOptions& options() const { return options_; }
  int in_flight() const;

  // Why this provider was chosen, one line per branch considered (selection.h fills it).
  const std::vector<std::string>& selection_reasons() const { return reasons_; }
  void set_selection_reasons(std::vector<std::string> reasons) { reasons_ = std::move(reasons); }

 private:
  Generator(std::unique_ptr<Provider> provider, GeneratorOptions options)
      : provider_(std::move(provider)), options_(std::move(options)) {}
  Status AcquireSlot(const CancelToken* cancel);
  void ReleaseSlot();

  std::unique_ptr<Provider> provider_;
  GeneratorOptions options_;
  std::vector<std::string> reasons_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
};

}  // namespace sdr
