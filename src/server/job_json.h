// The JSON the jobs API speaks: a job's status (GET /v1/jobs/{id}) and the payloads of its
// server-sent events (GET /v1/jobs/{id}/events). The README's "Jobs and events" section is this
// file in prose; a web page can drive everything from them.
//
//   queued     {id, status: "queued", queue_position (1 = next), queue_length}
//   started    {id, status: "running", n, width, height, steps, queue_seconds}
//   step       {id, status: "running", image, n, step, total_steps, progress (0..1 over all images),
//               elapsed_s, eta_s (-1 = unknown), preview? ("data:image/png;base64,...", present only
//               when a new one was made), preview_kind? ("taesd": the TAESD decode, image-sized, every
//               SD_PREVIEW_EVERY steps; "latent": the latent projection, latent-sized, at most every
//               preview_interval_s), preview_ms? (what making it cost: decode + PNG)}
//   completed  {id, status: "succeeded", created, seconds, images: [Image]}
//   failed     {id, status: "failed", error: {message, type, param, code}}
//   cancelled  {id, status: "cancelled", error: {message, type, param, code: "cancelled"}}
//
//   Image = {index, b64_json, url ("/v1/jobs/{id}/images/{index}", a PNG), seed, width, height,
//            infotext, revised_prompt?}
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/job.h"

namespace sdr {

std::string QueuedEventJson(const std::string& id, int position, int queue_length);
std::string StartedEventJson(const std::string& id, const ImageRequest& request, const JobSnapshot& s);
std::string StepEventJson(const std::string& id, const JobProgress& p, bool with_preview);
std::string FinishedEventJson(const std::string& id, JobState state, const ApiError& error);
// completed: built when sent (the images are not copied into the event history).
std::string CompletedEventJson(const Job& job, const JobSnapshot& s);

// The images of a result as the jobs API lists them (Image above).
nlohmann::json JobImagesJson(const std::string& job_id, const ImageResult& result);

// GET /v1/jobs/{id}: {id, object: "image.job", origin, status, created_at, started_at, finished_at
// (unix seconds or null), queue_position, cancel_requested, request {prompt, negative_prompt, n,
// width, height, steps, cfg_scale, seed, sampler, scheduler, clip_skip: null = the server's
// default; init_image "WxH" | null, strength | null, mask, mask_blur}, progress {image, n, step, total_steps, progress, elapsed_s, eta_s, preview?}, result
// {created, seconds, provider, model, images: [Image]} (succeeded), error (failed, cancelled)}.
nlohmann::json JobJson(const Job& job, const JobSnapshot& s);

// The payload of event `e` of `job` (fills in "completed").
std::string EventPayload(const Job& job, const JobEvent& e);

}  // namespace sdr
