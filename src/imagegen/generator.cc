#include "imagegen/generator.h"

#include <chrono>

#include "core/log.h"

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;

// A JSON-style quoted string, one line.
std::string QuoteForLog(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string FormatRequestRecord(const RequestRecord& r) {
  std::string line = fmt::format("imagegen provider={} size={}x{} n={} steps={} seconds={:.2f} outcome={}", r.provider,
                                 r.width, r.height, r.n, r.steps > 0 ? std::to_string(r.steps) : "default", r.seconds,
                                 ErrorCodeName(r.outcome));
  if (r.outcome != ErrorCode::kOk) line += " error=" + QuoteForLog(r.message);
  return line;
}

Result<std::unique_ptr<Generator>> Generator::Create(std::unique_ptr<Provider> provider, GeneratorOptions options) {
  if (provider == nullptr) return InvalidArgument("Generator needs a provider");
  if (options.max_concurrent < 1 || options.max_concurrent > 64) {
    return InvalidArgument("max_concurrent " + std::to_string(options.max_concurrent) + " must be in [1, 64]");
  }
  return std::unique_ptr<Generator>(new Generator(std::move(provider), std::move(options)));
}

int Generator::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

Status Generator::AcquireSlot(const CancelToken* cancel) {
  // Waits in short slices so that a cancel is noticed while queued.
  constexpr auto kSlice = std::chrono::milliseconds(50);
  const double wait_s = options_.acquire_timeout_s > 0 ? options_.acquire_timeout_s : 0;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
  std::unique_lock<std::mutex> lock(mu_);
  while (in_flight_ >= options_.max_concurrent) {
    if (cancel != nullptr && cancel->cancelled()) return Cancelled("cancelled while waiting for a free slot");
    const auto now = Clock::now();
    if (now >= deadline) {
      return AcquireTimeoutError("no " + std::string(provider_->name()) + " slot became free within " +
                                 fmt::format("{:g}", wait_s) + " s (" + std::to_string(options_.max_concurrent) +
                                 " in use; SD_MAX_CONCURRENT)");
    }
    cv_.wait_for(lock, std::min<Clock::duration>(kSlice, deadline - now));
  }
  ++in_flight_;
  return Status::Ok();
}

void Generator::ReleaseSlot() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  cv_.notify_one();
}

Result<ImageResult> Generator::Generate(const ImageRequest& request, const ImageProgressFn& progress,
                                        const CancelToken* cancel) {
  const auto start = Clock::now();
  const ProviderCapabilities& caps = provider_->capabilities();
  const auto [w, h] = RequestedSize(request, caps);
  RequestRecord record;
  record.provider = std::string(provider_->name());
  record.width = w;
  record.height = h;
  record.n = request.n;
  record.steps = request.steps;
  Result<ImageResult> result = [&]() -> Result<ImageResult> {
    SDR_RETURN_IF_ERROR(ValidateImageRequest(request, caps));
    if (cancel != nullptr && cancel->cancelled()) return Cancelled("cancelled before the request started");
    SDR_RETURN_IF_ERROR(AcquireSlot(cancel));
    Result<ImageResult> r = provider_->Generate(request, progress, cancel, options_.timeout_s);
    ReleaseSlot();
    return r;
  }();
  record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!result.ok()) {
    record.outcome = ClassifyError(result.status(), Operation::kGenerate);
    record.message = result.status().ToString();
  }
  const std::string line = FormatRequestRecord(record);
  if (result.ok()) {
    SDR_LOG_INFO("{}", line);
  } else {
    SDR_LOG_WARN("{}", line);
  }
  if (options_.on_request) options_.on_request(record);
  return result;
}

}  // namespace sdr
