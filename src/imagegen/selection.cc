#include "imagegen/selection.h"

#include <filesystem>
#include <system_error>

#include "core/log.h"
#include "imagegen/local_provider.h"
#include "runtime/errors.h"

namespace sdr {
namespace {

bool AzureConfigured(const RuntimeConfig& c) { return !c.azure_endpoint.empty() && !c.azure_api_key.empty(); }
bool OpenAiConfigured(const RuntimeConfig& c) { return !c.openai_api_key.empty(); }

// The cloud branches (3, 4) as reason lines, and the kind they select.
ProviderKind PlanCloud(const RuntimeConfig& c, std::vector<std::string>* reasons) {
  if (AzureConfigured(c)) {
    reasons->push_back("azure: AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are set (deployment " +
                       c.azure_deployment + ", api-version " + c.azure_api_version + ")");
    return ProviderKind::kAzure;
  }
  if (!c.azure_endpoint.empty()) {
    reasons->push_back("azure skipped: AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_API_KEY is not");
  } else if (!c.azure_api_key.empty()) {
    reasons->push_back("azure skipped: AZURE_OPENAI_API_KEY is set but AZURE_OPENAI_ENDPOINT is not");
  } else {
    reasons->push_back("azure skipped: AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are not set");
  }
  if (OpenAiConfigured(c)) {
    reasons->push_back("openai: OPENAI_API_KEY is set (model " + c.openai_image_model + ", base URL " +
                       c.openai_base_url + ")");
    return ProviderKind::kOpenAi;
  }
  reasons->push_back("openai skipped: OPENAI_API_KEY is not set");
  return ProviderKind::kNone;
}

void LogReasons(const std::vector<std::string>& reasons) {
  for (const std::string& r : reasons) SDR_LOG_INFO("imagegen selection: {}", r);
}

}  // namespace

std::string_view ToString(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::kLocal: return "local";
    case ProviderKind::kAzure: return "azure";
    case ProviderKind::kOpenAi: return "openai";
    case ProviderKind::kNone: break;
  }
  return "none";
}

std::string NoProviderMessage() {
  return "no image provider configured: set SD_MODEL_PATH (a local model), or AZURE_OPENAI_ENDPOINT and "
         "AZURE_OPENAI_API_KEY (optional AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_VERSION) for Azure OpenAI, or "
         "OPENAI_API_KEY (optional OPENAI_BASE_URL, OPENAI_IMAGE_MODEL) for OpenAI";
}

ProviderPlan PlanProvider(const RuntimeConfig& c) {
  ProviderPlan plan;
  if (c.model_path.empty()) {
    plan.reasons.push_back("local skipped: SD_MODEL_PATH is not set");
  } else {
    std::error_code ec;
    if (std::filesystem::exists(c.model_path, ec)) {
      plan.reasons.push_back("local: SD_MODEL_PATH " + c.model_path + " exists (chosen if it loads)");
      plan.kind = ProviderKind::kLocal;
      // What a failed load would fall back to.
      std::vector<std::string> fallback;
      const ProviderKind cloud = PlanCloud(c, &fallback);
      plan.reasons.push_back("if it fails to load: " +
                             (cloud == ProviderKind::kNone ? std::string("the load error (no cloud provider configured)")
                                                           : std::string(ToString(cloud))));
      return plan;
    }
    plan.reasons.push_back("local skipped: SD_MODEL_PATH " + c.model_path + " does not exist");
  }
  plan.kind = PlanCloud(c, &plan.reasons);
  return plan;
}

Result<Selection> SelectProvider(const RuntimeConfig& c, const SelectionOptions& options) {
  Selection s;
  Status load_error;
  if (c.model_path.empty()) {
    s.reasons.push_back("local skipped: SD_MODEL_PATH is not set");
  } else {
    auto local = LocalProvider::Load(c);
    if (local.ok()) {
      s.reasons.push_back("local: SD_MODEL_PATH " + c.model_path + " loaded");
      s.provider = std::move(local).value();
      LogReasons(s.reasons);
      return s;
    }
    load_error = local.status().WithContext("SD_MODEL_PATH " + c.model_path);
    const ErrorCode code = ClassifyError(load_error, Operation::kLoadModel);
    s.reasons.push_back("local failed (" + std::string(ErrorCodeName(code)) + "): " + load_error.message());
    SDR_LOG_WARN("imagegen: the local model did not load, trying the cloud providers: {}", load_error.ToString());
  }
  const ProviderKind cloud = PlanCloud(c, &s.reasons);
  LogReasons(s.reasons);
  switch (cloud) {
    case ProviderKind::kAzure: {
      SDR_ASSIGN_OR_RETURN(s.provider, MakeAzureProvider(c.azure_endpoint, c.azure_api_key, c.azure_deployment,
                                                         c.azure_api_version, options.transport));
      return s;
    }
    case ProviderKind::kOpenAi: {
      SDR_ASSIGN_OR_RETURN(s.provider, MakeOpenAiProvider(c.openai_base_url, c.openai_api_key, c.openai_image_model,
                                                          options.transport));
      return s;
    }
    default: break;
  }
  if (!load_error.ok()) return load_error;  // the load error itself, still tagged
  return WithErrorCode(InvalidArgument(NoProviderMessage()), ErrorCode::kInvalidParams);
}

Result<std::unique_ptr<Generator>> CreateGeneratorFromConfig(const RuntimeConfig& c, const SelectionOptions& options) {
  SDR_ASSIGN_OR_RETURN(Selection s, SelectProvider(c, options));
  GeneratorOptions g;
  g.max_concurrent = c.max_concurrent;
  g.timeout_s = c.timeout_seconds;
  if (s.provider->name() == "local" && options.local_timeout_s) g.timeout_s = *options.local_timeout_s;
  g.acquire_timeout_s = c.timeout_seconds;
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<Generator> gen, Generator::Create(std::move(s.provider), std::move(g)));
  gen->set_selection_reasons(std::move(s.reasons));
  return gen;
}

}  // namespace sdr
