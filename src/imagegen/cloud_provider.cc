#include "imagegen/cloud_provider.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "core/log.h"
#include "imagegen/base64.h"
#include "imagegen/cloud_errors.h"
#include "imagegen/http_client.h"
#include "imagegen/image_check.h"

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr int kMaxImageSide = 16384;  // pixels: refuse anything larger when decoding

std::string TrimSlash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

bool IsHttpUrl(std::string_view s) { return s.substr(0, 7) == "http://" || s.substr(0, 8) == "https://"; }

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

struct CloudSpec {
  std::string name;        // "openai" / "azure"
  std::string url;         // the images/generations URL
  std::string auth_header;  // "Authorization: Bearer KEY" / "api-key: KEY"
  std::string api_key;     // to scrub from every message
  std::string model;       // OpenAI: sent as "model"; Azure: the deployment (not sent)
  bool send_model = true;
  bool send_response_format = true;
};

class CloudProvider final : public Provider {
 public:
  CloudProvider(CloudSpec spec, CloudTransportOptions transport)
      : spec_(std::move(spec)), transport_(transport), caps_(CloudCapabilities(spec_.model)) {}

  std::string_view name() const override { return spec_.name; }
  const ProviderCapabilities& capabilities() const override { return caps_; }
  Status Ready() const override { return Status::Ok(); }

  Result<ImageResult> Generate(const ImageRequest& request, const ImageProgressFn& progress, const CancelToken* cancel,
                               double timeout_s) override {
    const auto start = Clock::now();
    std::optional<Clock::time_point> deadline;
    if (timeout_s > 0) deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    Result<ImageResult> r = Run(request, progress, cancel, deadline, start);
    if (!r.ok()) return Scrub(r.status());
    return r;
  }

 private:
  Result<ImageResult> Run(const ImageRequest& request, const ImageProgressFn& progress, const CancelToken* cancel,
                          std::optional<Clock::time_point> deadline, Clock::time_point start) {
    const auto [w, h] = RequestedSize(request, caps_);
    Json body = Json::object();
    if (spec_.send_model) body["model"] = spec_.model;
    body["prompt"] = request.prompt;
    body["n"] = request.n;
    body["size"] = std::to_string(w) + "x" + std::to_string(h);
    if (spec_.send_response_format) body["response_format"] = "b64_json";
    HttpRequest post;
    post.url = spec_.url;
    post.headers = {"Content-Type: application/json", "Accept: application/json", spec_.auth_header};
    post.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);

    ImageResult result;
    result.provider = spec_.name;
    result.model = spec_.model;
    SDR_ASSIGN_OR_RETURN(HttpResponse response, Exchange(post, deadline, cancel, &result.attempts));
    result.request_id = RequestId(response);
    if (progress) {
      progress({0, 1, 1, std::chrono::duration<double>(Clock::now() - start).count(), {}});  // the answer is in
    }
    const Json j = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return CloudError(ErrorCode::kProviderError, spec_.name,
                        "HTTP " + std::to_string(response.status) + " answer is not JSON (" +
                            std::to_string(response.body.size()) + " bytes)",
                        result.request_id);
    }
    const auto data = j.find("data");
    if (data == j.end() || !data->is_array() || data->empty()) {
      return CloudError(ErrorCode::kProviderError, spec_.name, "answer has no \"data\" images", result.request_id);
    }
    for (size_t i = 0; i < data->size(); ++i) {
      const Json& item = (*data)[i];
      const std::string what = "image " + std::to_string(i);
      std::string bytes;
      if (item.is_object() && item.contains("b64_json") && item["b64_json"].is_string()) {
        auto decoded = DecodeBase64(item["b64_json"].get_ref<const std::string&>());
        if (!decoded.ok()) {
          return CloudError(ErrorCode::kProviderError, spec_.name, what + ": " + decoded.status().message(),
                            result.request_id);
        }
        bytes = std::move(decoded).value();
      } else if (item.is_object() && item.contains("url") && item["url"].is_string()) {
        SDR_ASSIGN_OR_RETURN(bytes, Download(item["url"].get<std::string>(), what, deadline, cancel));
      } else {
        return CloudError(ErrorCode::kProviderError, spec_.name, what + " has neither b64_json nor url",
                          result.request_id);
      }
      auto size = DecodePngSize(bytes, kMaxImageSide);
      if (!size.ok()) {
        return CloudError(ErrorCode::kProviderError, spec_.name, what + ": " + size.status().message(),
                          result.request_id);
      }
      GeneratedPng png;
      png.png = std::move(bytes);
      png.width = size->width;
      png.height = size->height;
      if (item.contains("revised_prompt") && item["revised_prompt"].is_string()) {
        png.revised_prompt = item["revised_prompt"].get<std::string>();
      }
      result.images.push_back(std::move(png));
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

  Result<std::string> Download(const std::string& url, const std::string& what,
                               std::optional<Clock::time_point> deadline, const CancelToken* cancel) {
    if (!IsHttpUrl(url)) {
      return CloudError(ErrorCode::kProviderError, spec_.name, what + ": url is not http(s)");
    }
    HttpRequest get;
    get.method = "GET";
    get.url = url;  // no credentials: the URL points at storage, not at the API
    get.follow_redirects = true;
    int attempts = 0;
    auto r = Exchange(get, deadline, cancel, &attempts);
    if (!r.ok()) return r.status().WithContext("downloading " + what);
    return std::move(r->body);
  }

  // One request with the retry policy; a 2xx response or the tagged final failure.
  Result<HttpResponse> Exchange(const HttpRequest& request, std::optional<Clock::time_point> deadline,
                                const CancelToken* cancel, int* attempts) {
    const RetryPolicy& policy = transport_.retry;
    const HttpLimits limits{transport_.connect_timeout_s, deadline, transport_.max_response_bytes};
    for (int attempt = 0;; ++attempt) {
      *attempts = attempt + 1;
      auto r = HttpPerform(request, limits, cancel);
      Status failure;
      bool retryable = false;
      std::optional<double> server_delay;
      if (!r.ok()) {
        const std::string after = attempt > 0 ? " after " + std::to_string(attempt + 1) + " attempts" : "";
        failure = Status(r.status().code(), spec_.name + ": " + r.status().message() + after).WithDetail(r.status().detail());
        retryable = ClassifyError(r.status()) == ErrorCode::kUnavailable;
      } else if (r->status >= 200 && r->status < 300) {
        return r;
      } else {
        failure = HttpFailureStatus(spec_.name, *r, attempt + 1);
        retryable = RetryableStatus(*r, IsQuotaError(ParseCloudErrorBody(r->body)));
        server_delay = ServerRetryDelay(*r);
      }
      if (!retryable || attempt >= policy.max_retries) return failure;
      if (server_delay && *server_delay > policy.max_server_delay_s) {
        return Status(failure.code(), failure.message() + "; not retried: the server asks to wait " +
                                          fmt::format("{:g}", *server_delay) + " s, more than the " +
                                          fmt::format("{:g}", policy.max_server_delay_s) + " s cap")
            .WithDetail(failure.detail());
      }
      const double delay = server_delay ? *server_delay : BackoffDelay(policy, attempt);
      const auto wake = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
      if (deadline && wake >= *deadline) {
        return Status(failure.code(), failure.message() + "; not retried: the " + fmt::format("{:.2f}", delay) +
                                          " s wait would pass the deadline (SD_TIMEOUT_SECONDS)")
            .WithDetail(failure.detail());
      }
      SDR_LOG_WARN("{}; retry {} of {} in {:.2f} s{}", Scrub(failure).message(), attempt + 1, policy.max_retries, delay,
                   server_delay ? " (as the server asked)" : "");
      while (Clock::now() < wake) {
        if (cancel != nullptr && cancel->cancelled()) return Cancelled(spec_.name + ": cancelled while waiting to retry");
        std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(20), wake - Clock::now()));
      }
    }
  }

  // The status with every occurrence of the key replaced (a safety net: no message should hold it).
  Status Scrub(const Status& s) const {
    if (spec_.api_key.size() < 4 || s.message().find(spec_.api_key) == std::string::npos) return s;
    std::string m = s.message();
    for (size_t p = m.find(spec_.api_key); p != std::string::npos; p = m.find(spec_.api_key, p)) {
      m.replace(p, spec_.api_key.size(), "***");
    }
    return Status(s.code(), std::move(m)).WithDetail(s.detail());
  }

  const CloudSpec spec_;
  const CloudTransportOptions transport_;
  const ProviderCapabilities caps_;
};

Status CheckCommon(std::string_view what, std::string_view url, const std::string& key) {
  if (key.empty()) return InvalidArgument(std::string(what) + ": the API key is empty");
  if (!IsHttpUrl(url)) return InvalidArgument(std::string(what) + ": '" + std::string(url) + "' is not an http(s) URL");
  return Status::Ok();
}

}  // namespace

ProviderCapabilities CloudCapabilities(std::string_view model) {
  ProviderCapabilities c;
  c.engine_settings = false;
  c.default_size = {1024, 1024};
  if (Contains(model, "dall-e-2")) {
    c.sizes = {{256, 256}, {512, 512}, {1024, 1024}};
    c.max_n = 10;
  } else if (Contains(model, "dall-e-3")) {
    c.sizes = {{1024, 1024}, {1792, 1024}, {1024, 1792}};
    c.max_n = 1;
  } else if (Contains(model, "gpt-image")) {
    c.sizes = {{1024, 1024}, {1536, 1024}, {1024, 1536}};
    c.max_n = 10;
  } else {
    c.min_side = 64;
    c.max_side = 4096;
    c.max_n = 10;
  }
  return c;
}

std::string OpenAiImagesUrl(std::string_view base_url) { return TrimSlash(base_url) + "/images/generations"; }

std::string AzureImagesUrl(std::string_view endpoint, std::string_view deployment, std::string_view api_version) {
  return TrimSlash(endpoint) + "/openai/deployments/" + std::string(deployment) +
         "/images/generations?api-version=" + std::string(api_version);
}

Result<std::unique_ptr<Provider>> MakeOpenAiProvider(const std::string& base_url, const std::string& api_key,
                                                     const std::string& model, CloudTransportOptions transport) {
  SDR_RETURN_IF_ERROR(CheckCommon("OpenAI", base_url, api_key));
  if (model.empty()) return InvalidArgument("OpenAI: the image model is empty");
  CloudSpec spec{"openai", OpenAiImagesUrl(base_url), "Authorization: Bearer " + api_key, api_key, model};
  spec.send_response_format = !Contains(model, "gpt-image");
  return std::unique_ptr<Provider>(new CloudProvider(std::move(spec), transport));
}

Result<std::unique_ptr<Provider>> MakeAzureProvider(const std::string& endpoint, const std::string& api_key,
                                                    const std::string& deployment, const std::string& api_version,
                                                    CloudTransportOptions transport) {
  SDR_RETURN_IF_ERROR(CheckCommon("Azure OpenAI", endpoint, api_key));
  if (deployment.empty() || api_version.empty()) {
    return InvalidArgument("Azure OpenAI: the deployment and api-version must not be empty");
  }
  CloudSpec spec{"azure", AzureImagesUrl(endpoint, deployment, api_version), "api-key: " + api_key, api_key,
                 deployment};
  spec.send_model = false;
  spec.send_response_format = !Contains(deployment, "gpt-image");
  return std::unique_ptr<Provider>(new CloudProvider(std::move(spec), transport));
}

}  // namespace sdr
