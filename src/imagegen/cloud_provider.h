// The OpenAI and Azure OpenAI image providers: one implementation of the images/generations API,
// two ways to address and authenticate it.
//
//   OpenAI: POST {OPENAI_BASE_URL}/images/generations, "Authorization: Bearer KEY",
//           {"model", "prompt", "n", "size": "WxH", "response_format": "b64_json"}
//           (gpt-image-* models always answer b64_json and refuse response_format: not sent).
//   Azure:  POST {AZURE_OPENAI_ENDPOINT}/openai/deployments/{deployment}/images/generations
//           ?api-version=V, "api-key: KEY", the same body without "model" (the deployment is it).
//
// Answers {"data": [{"b64_json" | "url", "revised_prompt"?}]}: base64 is decoded, a URL is
// downloaded (GET, no credentials sent, the same limits and retries), and every image must
// decode as PNG (image_check.h) before it is returned. Failures are tagged as cloud_errors.h
// says; retries follow retry.h. The whole call, retries and downloads included, ends by the
// timeout given to Generate (SD_TIMEOUT_SECONDS). The key is never logged nor put in a message.
//
// Thread-safety: Generate may run on any number of threads at once.
#pragma once

#include <memory>
#include <string>

#include "imagegen/provider.h"
#include "imagegen/retry.h"

namespace sdr {

struct CloudTransportOptions {
  double connect_timeout_s = 10;                  // TCP + TLS handshake, per attempt
  size_t max_response_bytes = size_t{64} << 20;   // per response (JSON with base64, or a download)
  RetryPolicy retry;                              // see retry.h
};

// Sizes and n the model family accepts (dall-e-2, dall-e-3, gpt-image-*); a name we do not know
// gets no client-side size list (the service decides) and n up to 10.
ProviderCapabilities CloudCapabilities(std::string_view model);

// {base}/images/generations with base's trailing '/' dropped.
std::string OpenAiImagesUrl(std::string_view base_url);
// {endpoint}/openai/deployments/{deployment}/images/generations?api-version={version}.
std::string AzureImagesUrl(std::string_view endpoint, std::string_view deployment, std::string_view api_version);

// InvalidArgument for an empty key or a URL that is not http(s).
Result<std::unique_ptr<Provider>> MakeOpenAiProvider(const std::string& base_url, const std::string& api_key,
                                                     const std::string& model, CloudTransportOptions transport = {});
Result<std::unique_ptr<Provider>> MakeAzureProvider(const std::string& endpoint, const std::string& api_key,
                                                    const std::string& deployment, const std::string& api_version,
                                                    CloudTransportOptions transport = {});

}  // namespace sdr
