#include "server/job_json.h"

#include <cmath>

#include "imagegen/base64.h"

namespace sdr {
namespace {

using nlohmann::json;

json Round3(double v) { return std::round(v * 1000) / 1000; }
json UnixOrNull(double t) { return t > 0 ? Round3(t) : json(nullptr); }

json ProgressJson(const JobProgress& p, bool with_preview) {
  json j = {{"image", p.image},         {"n", p.n},
            {"step", p.step},           {"total_steps", p.total_steps},
            {"progress", Round3(p.fraction)}, {"elapsed_s", Round3(p.elapsed_s)},
            {"eta_s", p.eta_s < 0 ? json(-1) : Round3(p.eta_s)}};
  if (with_preview && !p.preview.empty()) {
    j["preview"] = p.preview;
    j["preview_kind"] = p.preview_kind;
    j["preview_ms"] = std::round(p.preview_ms * 10) / 10;
  }
  return j;
}

json RequestJson(const ImageRequest& r) {
  const auto or_null = [](auto v, bool set) { return set ? json(v) : json(nullptr); };
  return {{"prompt", r.prompt},
          {"negative_prompt", r.negative_prompt},
          {"n", r.n},
          {"width", or_null(r.width, r.width > 0)},
          {"height", or_null(r.height, r.height > 0)},
          {"steps", or_null(r.steps, r.steps > 0)},
          {"cfg_scale", or_null(r.cfg_scale, r.cfg_scale > 0)},
          {"seed", r.seed},
          {"sampler", r.sampler ? json(ToString(*r.sampler)) : json(nullptr)},
          {"scheduler", r.scheduler ? json(ToString(*r.scheduler)) : json(nullptr)},
          {"clip_skip", or_null(r.clip_skip, r.clip_skip > 0)},
          {"init_image", r.has_init_image() ? json(std::to_string(r.init_image.width) + "x" +
                                                   std::to_string(r.init_image.height))
                                            : json(nullptr)},
          {"strength", r.has_init_image() ? json(Round3(r.strength)) : json(nullptr)},
          {"mask", !r.mask.empty()},
          {"mask_blur", r.mask_blur}};
}

}  // namespace

std::string QueuedEventJson(const std::string& id, int position, int queue_length) {
  return DumpJson({{"id", id}, {"status", "queued"}, {"queue_position", position}, {"queue_length", queue_length}});
}

std::string StartedEventJson(const std::string& id, const ImageRequest& r, const JobSnapshot& s) {
  return DumpJson({{"id", id},
                   {"status", "running"},
                   {"n", r.n},
                   {"width", r.width > 0 ? json(r.width) : json(nullptr)},
                   {"height", r.height > 0 ? json(r.height) : json(nullptr)},
                   {"steps", r.steps > 0 ? json(r.steps) : json(nullptr)},
                   {"queue_seconds", Round3(s.started_at - s.created_at)}});
}

std::string StepEventJson(const std::string& id, const JobProgress& p, bool with_preview) {
  json j = ProgressJson(p, with_preview);
  j["id"] = id;
  j["status"] = "running";
  return DumpJson(j);
}

std::string FinishedEventJson(const std::string& id, JobState state, const ApiError& error) {
  json j = OpenAiErrorBody(error);
  j["id"] = id;
  j["status"] = ToString(state);
  return DumpJson(j);
}

json JobImagesJson(const std::string& job_id, const ImageResult& result) {
  json images = json::array();
  for (size_t i = 0; i < result.images.size(); ++i) {
    const GeneratedPng& img = result.images[i];
    json j = {{"index", i},
              {"b64_json", EncodeBase64(img.png)},
              {"url", "/v1/jobs/" + job_id + "/images/" + std::to_string(i)},
              {"seed", img.seed},
              {"width", img.width},
              {"height", img.height},
              {"infotext", img.infotext}};
    if (!img.revised_prompt.empty()) j["revised_prompt"] = img.revised_prompt;
    images.push_back(std::move(j));
  }
  return images;
}

std::string CompletedEventJson(const Job& job, const JobSnapshot& s) {
  json j = {{"id", job.id()}, {"status", "succeeded"}, {"created", static_cast<int64_t>(s.finished_at)},
            {"seconds", Round3(s.run_seconds)}};
  j["images"] = s.result != nullptr ? JobImagesJson(job.id(), *s.result) : json::array();
  return DumpJson(j);
}

json JobJson(const Job& job, const JobSnapshot& s) {
  json j = {{"id", job.id()},
            {"object", "image.job"},
            {"origin", job.origin()},
            {"status", ToString(s.state)},
            {"created_at", Round3(s.created_at)},
            {"started_at", UnixOrNull(s.started_at)},
            {"finished_at", UnixOrNull(s.finished_at)},
            {"queue_position", s.queue_position},
            {"cancel_requested", s.cancel_requested},
            {"request", RequestJson(job.request())},
            {"progress", ProgressJson(s.progress, true)}};
  if (s.result != nullptr) {
    j["result"] = {{"created", static_cast<int64_t>(s.finished_at)},
                   {"seconds", Round3(s.run_seconds)},
                   {"provider", s.result->provider},
                   {"model", s.result->model},
                   {"images", JobImagesJson(job.id(), *s.result)}};
  }
  if (s.error) j["error"] = OpenAiErrorBody(*s.error)["error"];
  return j;
}

std::string EventPayload(const Job& job, const JobEvent& e) {
  if (e.name == "completed") return CompletedEventJson(job, job.Snapshot());
  return e.data;
}

}  // namespace sdr
