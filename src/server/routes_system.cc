// GET /health, /ready, /metrics, /v1/models, /v1/capabilities.
#include <algorithm>

#include "core/enum_names.h"
#include "server/openai_api.h"
#include "server/routes.h"

namespace sdr {
namespace {

using nlohmann::json;

json Capabilities(const ServerContext& ctx) {
  const ProviderCapabilities& caps = ctx.generator.capabilities();
  const RequestLimits& limits = ctx.options.limits;
  const GenerateParams& d = ctx.defaults;
  json samplers = json::array(), schedulers = json::array(), sizes = json::array();
  if (caps.engine_settings) {
    for (SamplerKind k : AllSamplerKinds()) samplers.push_back({{"name", ToString(k)}, {"a1111_name", A1111Name(k)}});
    for (Scheduler s : AllSchedulers()) {
      schedulers.push_back({{"name", ToString(s)}, {"a1111_name", A1111ScheduleName(s)}});
    }
  }
  for (const auto& [w, h] : caps.sizes) sizes.push_back({w, h});
  json defaults = {{"width", caps.default_size.first}, {"height", caps.default_size.second}, {"n", 1}, {"seed", -1}};
  if (caps.engine_settings) {
    defaults["steps"] = d.steps;
    defaults["cfg_scale"] = d.cfg_scale;
    defaults["sampler"] = ToString(d.sampler);
    defaults["scheduler"] = ToString(d.scheduler);
    defaults["negative_prompt"] = d.negative_prompt;
    defaults["clip_skip"] = d.clip_skip;
  }
  return {{"provider", ctx.generator.provider_name()},
          {"model", ctx.model_name},
          {"api_key_required", !ctx.options.api_key.empty()},
          {"engine_settings", caps.engine_settings},
          {"samplers", samplers},
          {"schedulers", schedulers},
          {"defaults", defaults},
          {"limits",
           {{"min_side", std::max(limits.min_side, caps.min_side)},
            {"max_side", std::min(limits.max_side, caps.max_side)},
            {"side_multiple", 8},
            {"sizes", sizes},
            {"max_steps", caps.engine_settings ? std::min(limits.max_steps, caps.max_steps) : limits.max_steps},
            {"max_n", std::min(limits.max_n, caps.max_n)},
            {"max_prompt_bytes", limits.max_prompt_bytes},
            {"max_body_bytes", limits.max_body_bytes},
            {"max_image_body_bytes", limits.max_image_body_bytes},
            {"max_queue", ctx.jobs.max_queue()},
            {"max_concurrent", ctx.jobs.workers()}}},
          {"image_input", caps.image_input},
          {"previews", caps.preview_every > 0
                           ? json{{"kind", "taesd"}, {"every_steps", caps.preview_every}}
                           : json{{"kind", "latent"}, {"interval_s", ctx.options.preview_interval_s}}},
          {"results", {{"ttl_s", ctx.options.result_ttl_s}, {"max", ctx.options.max_results}}}};
}

}  // namespace

void AddSystemRoutes(Router& router, ServerContext& ctx) {
  // Liveness: the process answers. Never needs the key (it says whether the others do).
  router.Get("/health", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"status", "ok"}, {"api_key_required", !ctx.options.api_key.empty()}});
  });
  // Readiness: the provider can take requests (local: the model is loaded) and we are not stopping.
  router.Get("/ready", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (ctx.stopping) {
      return SendError(res, {ErrorCode::kUnavailable, "the server is shutting down", ""}, FamilyOf(req.path));
    }
    const Status ready = ctx.generator.Ready();
    if (!ready.ok()) return SendError(res, ApiError::FromStatus(ready), FamilyOf(req.path));
    SendJson(res, 200, {{"status", "ready"}, {"provider", ctx.generator.provider_name()}, {"model", ctx.model_name}});
  });
  router.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    const MetricsGauges gauges{ctx.jobs.queued(), ctx.jobs.running(), ctx.jobs.max_queue(), ctx.jobs.workers()};
    res.status = 200;
    res.set_content(ctx.metrics.Render(gauges), "text/plain; version=0.0.4");
  });
  router.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, OpenAiModelsResponse(ctx.model_name, ctx.generator.provider_name()));
  });
  router.Get("/v1/capabilities", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, Capabilities(ctx));
  });
}

}  // namespace sdr
