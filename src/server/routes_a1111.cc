// The A1111 web UI's API: POST /sdapi/v1/txt2img, /img2img, /interrupt, /png-info; GET /progress,
// /samplers, /schedulers, /sd-models, /options.
#include "server/a1111_api.h"
#include "server/routes.h"

namespace sdr {
namespace {


using A1111Parser = MaybeError (*)(std::string_view, const RequestLimits&, const ProviderCapabilities&,
                                   const GenerateParams&, A1111Request*);

// txt2img and img2img: parse, one job, wait, answer.
Router::Handler ImagesHandler(ServerContext& ctx, A1111Parser parse) {
  return [&ctx, parse](const httplib::Request& req, httplib::Response& res) {
    A1111Request r;
    if (auto e = parse(req.body, ctx.options.limits, ctx.generator.capabilities(), ctx.defaults, &r)) {
      return SendError(res, *e, ApiFamily::kA1111);
    }
    auto job = ctx.jobs.Submit(r.image, "a1111");
    if (!job.ok()) return SendSubmitError(res, ctx, job.status(), ApiFamily::kA1111);
    NoteJob((*job)->id());
    res.set_header("X-Job-Id", (*job)->id());
    if (!AwaitJob(ctx, *job)) return SendError(res, {ErrorCode::kCancelled, "the client went away", ""}, ApiFamily::kA1111);
    const JobSnapshot s = (*job)->Snapshot();
    if (s.state != JobState::kSucceeded) {
      return SendError(res, s.error.value_or(ApiError{ErrorCode::kGenerationFailed, "generation failed", ""}),
                       ApiFamily::kA1111);
    }
    SendJson(res, 200, A1111ImagesResponse(r, s));
  };
}

}  // namespace

void AddA1111Routes(Router& router, ServerContext& ctx) {
  router.Post("/sdapi/v1/txt2img", ImagesHandler(ctx, ParseA1111Txt2Img));
  router.Post("/sdapi/v1/img2img", ImagesHandler(ctx, ParseA1111Img2Img));
  // The oldest running job (A1111 runs one at a time; we may run several).
  router.Get("/sdapi/v1/progress", [&ctx](const httplib::Request& req, httplib::Response& res) {
    const auto running = ctx.jobs.Running();
    const int job_count = static_cast<int>(running.size()) + ctx.jobs.queued();
    const bool skip = req.get_param_value("skip_current_image") == "true";
    if (running.empty()) return SendJson(res, 200, A1111ProgressResponse(nullptr, "", job_count, skip));
    const JobSnapshot s = running.front()->Snapshot();
    SendJson(res, 200, A1111ProgressResponse(&s, running.front()->id(), job_count, skip));
  });
  // Interrupts what A1111 clients started: the running txt2img and img2img jobs (jobs of the async API are
  // cancelled by their own DELETE).
  router.Post("/sdapi/v1/interrupt", [&ctx](const httplib::Request&, httplib::Response& res) {
    for (const auto& job : ctx.jobs.Running()) {
      if (job->origin() == "a1111") ctx.jobs.Cancel(job);
    }
    SendJson(res, 200, nlohmann::json::object());
  });
  router.Post("/sdapi/v1/png-info", [&ctx](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json out;
    if (auto e = A1111PngInfo(req.body, ctx.options.limits, &out)) return SendError(res, *e, ApiFamily::kA1111);
    SendJson(res, 200, out);
  });
  router.Get("/sdapi/v1/samplers", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, A1111Samplers());
  });
  router.Get("/sdapi/v1/schedulers", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, A1111Schedulers());
  });
  router.Get("/sdapi/v1/sd-models", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, A1111SdModels(ctx.model_name, ctx.generator.provider_name()));
  });
  router.Get("/sdapi/v1/options", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, A1111Options(ctx.model_name, ctx.defaults));
  });
}

}  // namespace sdr
