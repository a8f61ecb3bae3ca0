// Which provider serves images, from the configuration (runtime/config.h), in this order:
//
//   1. SD_MODEL_PATH set, the file exists and loads      -> local (a ContextPool on the model)
//   2. SD_MODEL_PATH set but missing or failing to load  -> a warning naming the cause, then 3-4;
//      if no cloud is configured, the load error itself (model_not_found / model_load_failed /
//      out_of_memory), not a generic one
//   3. AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY set  -> azure (AZURE_OPENAI_DEPLOYMENT and
//      AZURE_OPENAI_API_VERSION have defaults)
//   4. OPENAI_API_KEY set                                -> openai (OPENAI_BASE_URL, OPENAI_IMAGE_MODEL
//      have defaults)
//   5. nothing                                           -> invalid_params "no image provider
//      configured", listing the variables that would configure one
//
// Each branch considered is logged (info; the fallback warning at warn) with its reason, and the
// reasons are kept on the Generator (Generator::selection_reasons) for `sdr config` and servers.
//
// Thread-safety: plain functions (loading a model may take seconds).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imagegen/cloud_provider.h"
#include "imagegen/generator.h"
#include "runtime/config.h"

namespace sdr {

enum class ProviderKind { kNone, kLocal, kAzure, kOpenAi };
std::string_view ToString(ProviderKind kind);  // "none", "local", "azure", "openai"

// What the configuration selects without loading anything (for `sdr config`): local when
// SD_MODEL_PATH names an existing path (it still has to load), else the cloud order above.
struct ProviderPlan {
  ProviderKind kind = ProviderKind::kNone;
  std::vector<std::string> reasons;  // one line per branch considered
};
ProviderPlan PlanProvider(const RuntimeConfig& config);

struct SelectionOptions {
  CloudTransportOptions transport;       // timeouts, size cap and retry policy of the cloud providers
  std::optional<double> local_timeout_s;  // replaces SD_TIMEOUT_SECONDS for a local provider (<= 0: none;
                                          // `sdr generate` applies one only when asked)
};

struct Selection {
  std::unique_ptr<Provider> provider;
  std::vector<std::string> reasons;  // one line per branch considered, in order
};
Result<Selection> SelectProvider(const RuntimeConfig& config, const SelectionOptions& options = {});

// SelectProvider, then a Generator with SD_MAX_CONCURRENT slots and SD_TIMEOUT_SECONDS per request
// (also the longest wait for a slot), carrying the selection reasons.
Result<std::unique_ptr<Generator>> CreateGeneratorFromConfig(const RuntimeConfig& config,
                                                             const SelectionOptions& options = {});

// The message of the "nothing configured" error (the variables that would configure a provider).
std::string NoProviderMessage();

}  // namespace sdr
