// POST /v1/images/generations and /v1/images/edits: OpenAI's images API, answered when the job is
// done, or streamed (stream: true) as OpenAI's image_generation.* (image_edit.*) events.
#include <chrono>

#include "imagegen/base64.h"
#include "server/http_connection.h"
#include "server/job_json.h"
#include "server/openai_api.h"
#include "server/openai_edits.h"
#include "server/routes.h"
#include "server/sse.h"

namespace sdr {
namespace {

using namespace std::chrono_literals;

// The stream of one job in OpenAI's events: up to `partial_images` previews spread over the run,
// then one completed event per image (or an error event). The client going away cancels the job.
void StreamOpenAi(ServerContext& ctx, httplib::Response& res, std::shared_ptr<Job> job, int partial_images,
                  std::string_view prefix) {
  struct State {
    uint64_t seq = 0;
    int partials_sent = 0;
    SseHeartbeat heartbeat;
  };
  auto state = std::make_shared<State>();
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream", SafeProvider(
      [&ctx, job, state, partial_images, prefix](size_t, httplib::DataSink& sink) {
        if (CurrentPeerClosed()) {  // nobody to stream to: the generation is not wanted any more
          ctx.jobs.Cancel(job);
          return false;
        }
        for (const JobEvent& e : job->EventsAfter(state->seq, 250ms)) {
          state->seq = e.seq;
          std::string out;
          if (e.name == "step" && state->partials_sent < partial_images) {
            const JobSnapshot s = job->Snapshot();
            // The k-th partial image once the job is k/(partial_images+1) done.
            const double due = static_cast<double>(state->partials_sent + 1) / (partial_images + 1);
            const std::string& uri = s.progress.preview;
            const size_t comma = uri.find(',');
            if (s.progress.fraction >= due && comma != std::string::npos) {
              out = SseEvent(std::string(prefix) + ".partial_image",
                             PartialImageEventJson(prefix, s, uri.substr(comma + 1), state->partials_sent++));
            }
          } else if (e.name == "completed") {
            const JobSnapshot s = job->Snapshot();
            if (s.result != nullptr) {
              for (const GeneratedPng& img : s.result->images) {
                out += SseEvent(std::string(prefix) + ".completed", CompletedImageEventJson(prefix, s, img));
              }
            }
          } else if (e.name == "failed" || e.name == "cancelled") {
            const JobSnapshot s = job->Snapshot();
            ApiError error = s.error.value_or(ApiError{ErrorCode::kGenerationFailed, "generation failed", ""});
            NoteError(error.code);
            nlohmann::json body = OpenAiErrorBody(error);
            body["type"] = "error";
            out = SseEvent("error", DumpJson(body));
          }
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) {
              ctx.jobs.Cancel(job);
              return false;
            }
            state->heartbeat.Wrote();
          }
          if (e.name == "completed" || e.name == "failed" || e.name == "cancelled") {
            sink.done();
            return true;
          }
        }
        if (const std::string ping = state->heartbeat.Ping(ctx.options.heartbeat_s); !ping.empty()) {
          if (!sink.write(ping.data(), ping.size())) {
            ctx.jobs.Cancel(job);
            return false;
          }
        }
        return true;
      }));
}

// One parsed request: a job, then the stream or the answer once it is done.
void Answer(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, const OpenAiImageRequest& r) {
  auto job = ctx.jobs.Submit(r.image, "openai");
  if (!job.ok()) return SendSubmitError(res, ctx, job.status(), ApiFamily::kOpenAi);
  NoteJob((*job)->id());
  res.set_header("X-Job-Id", (*job)->id());
  if (r.stream) return StreamOpenAi(ctx, res, *job, r.partial_images, StreamEventPrefix(r));
  if (!AwaitJob(ctx, *job)) return SendError(res, {ErrorCode::kCancelled, "the client went away", ""}, ApiFamily::kOpenAi);
  const JobSnapshot s = (*job)->Snapshot();
  if (s.state != JobState::kSucceeded) {
    return SendError(res, s.error.value_or(ApiError{ErrorCode::kGenerationFailed, "generation failed", ""}),
                     ApiFamily::kOpenAi);
  }
  SendJson(res, 200, OpenAiImagesResponse(**job, s, r.response_url, BaseUrl(req)));
}

}  // namespace

void AddOpenAiRoutes(Router& router, ServerContext& ctx) {
  router.Post("/v1/images/generations", [&ctx](const httplib::Request& req, httplib::Response& res) {
    OpenAiImageRequest r;
    if (auto e = ParseOpenAiImageRequest(req.body, ctx.options.limits, ctx.generator.capabilities(), ctx.defaults,
                                         /*allow_width_height=*/false, &r)) {
      return SendError(res, *e, ApiFamily::kOpenAi);
    }
    Answer(ctx, req, res, r);
  });
  router.Post("/v1/images/edits", [&ctx](const httplib::Request& req, httplib::Response& res) {
    OpenAiImageRequest r;
    if (auto e = ParseOpenAiEditRequest(req.get_header_value("Content-Type"), req.files, ctx.options.limits,
                                        ctx.generator.capabilities(), ctx.defaults, &r)) {
      return SendError(res, *e, ApiFamily::kOpenAi);
    }
    Answer(ctx, req, res, r);
  });
}

}  // namespace sdr
