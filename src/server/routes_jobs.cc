// The async jobs API: POST /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/events (server-sent
// events), GET /v1/jobs/{id}/images/{index} (PNG), DELETE /v1/jobs/{id}.
#include <chrono>

#include "server/http_connection.h"
#include "server/job_json.h"
#include "server/openai_api.h"
#include "server/routes.h"
#include "server/sse.h"

namespace sdr {
namespace {

using namespace std::chrono_literals;

// The job named by the path's {id}, or the error already sent.
std::shared_ptr<Job> FindJob(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches.size() > 1 ? req.matches[1].str() : "";
  NoteJob(id);
  auto job = ctx.jobs.Find(id);
  if (!job.ok()) {
    SendError(res, ApiError::FromStatus(job.status()), ApiFamily::kOpenAi);
    return nullptr;
  }
  return *job;
}

// Last-Event-ID (a reconnecting EventSource sends it): replay only what came after.
uint64_t LastEventId(const httplib::Request& req) {
  const std::string v = req.get_header_value("Last-Event-ID");
  uint64_t id = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || id > (UINT64_MAX - 9) / 10) return 0;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

void StreamJobEvents(ServerContext& ctx, httplib::Response& res, std::shared_ptr<Job> job, uint64_t after) {
  struct State {
    uint64_t seq;
    SseHeartbeat heartbeat;
  };
  auto state = std::make_shared<State>();
  state->seq = after;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", SafeProvider([&ctx, job, state](size_t, httplib::DataSink& sink) {
    if (CurrentPeerClosed()) return false;  // the job goes on: it is the client's to cancel
    for (const JobEvent& e : job->EventsAfter(state->seq, 250ms)) {
      state->seq = e.seq;
      const std::string out = SseEvent(e.name, EventPayload(*job, e), e.seq);
      if (!sink.write(out.data(), out.size())) return false;
      state->heartbeat.Wrote();
      if (e.name == "completed" || e.name == "failed" || e.name == "cancelled") {
        sink.done();
        return true;
      }
    }
    if (ctx.stopping && IsFinished(job->Snapshot().state)) {
      sink.done();
      return true;
    }
    if (const std::string ping = state->heartbeat.Ping(ctx.options.heartbeat_s); !ping.empty()) {
      if (!sink.write(ping.data(), ping.size())) return false;
    }
    return true;
  }));
}

}  // namespace

void AddJobRoutes(Router& router, ServerContext& ctx) {
  router.Post("/v1/jobs", [&ctx](const httplib::Request& req, httplib::Response& res) {
    OpenAiImageRequest r;
    if (auto e = ParseOpenAiImageRequest(req.body, ctx.options.limits, ctx.generator.capabilities(), ctx.defaults,
                                         /*allow_width_height=*/true, &r)) {
      return SendError(res, *e, ApiFamily::kOpenAi);
    }
    auto job = ctx.jobs.Submit(r.image, "jobs");
    if (!job.ok()) return SendSubmitError(res, ctx, job.status(), ApiFamily::kOpenAi);
    NoteJob((*job)->id());
    const JobSnapshot s = (*job)->Snapshot();
    res.set_header("Location", "/v1/jobs/" + (*job)->id());
    SendJson(res, 202, {{"id", (*job)->id()}, {"object", "image.job"}, {"status", ToString(s.state)},
                        {"queue_position", s.queue_position}});
  });
  router.Get("/v1/jobs/{id}", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (auto job = FindJob(ctx, req, res)) SendJson(res, 200, JobJson(*job, job->Snapshot()));
  });
  router.Get("/v1/jobs/{id}/events", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (auto job = FindJob(ctx, req, res)) StreamJobEvents(ctx, res, job, LastEventId(req));
  });
  router.Get("/v1/jobs/{id}/images/{index}", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto job = FindJob(ctx, req, res);
    if (!job) return;
    const JobSnapshot s = job->Snapshot();
    const std::string index_text = req.matches.size() > 2 ? req.matches[2].str() : "";
    size_t index = 0;
    bool numeric = !index_text.empty() && index_text.size() < 4;
    for (char c : index_text) {
      numeric = numeric && c >= '0' && c <= '9';
      if (numeric) index = index * 10 + static_cast<size_t>(c - '0');
    }
    if (s.result == nullptr || !numeric || index >= s.result->images.size()) {
      return SendError(res, {ErrorCode::kNotFound, "job " + job->id() + " has no image " + index_text.substr(0, 16) +
                             (s.result == nullptr ? " (its status is " + std::string(ToString(s.state)) + ")" : ""), ""},
                       ApiFamily::kOpenAi);
    }
    res.status = 200;
    res.set_content(s.result->images[index].png, "image/png");
  });
  router.Delete("/v1/jobs/{id}", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto job = FindJob(ctx, req, res);
    if (!job) return;
    ctx.jobs.Cancel(job);
    SendJson(res, 200, JobJson(*job, job->Snapshot()));
  });
}

}  // namespace sdr
