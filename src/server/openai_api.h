// The OpenAI images API as the server speaks it (POST /v1/images/generations), and the body of
// the async jobs API (POST /v1/jobs), which takes the same fields:
//
//   prompt (required), n, size "WxH" | "auto", response_format "b64_json" (default) | "url",
//   output_format "png" (the only one), model and user (accepted, not used: one model is served),
//   stream (SSE answer), partial_images 0..3 (previews sent while streaming),
//   our extensions: negative_prompt, steps, cfg_scale, seed, sampler, scheduler, clip_skip,
//   and for /v1/jobs also width + height instead of size.
//   Other fields (quality, style, background, moderation, ...) are ignored.
//
// Answer: {created, data: [{b64_json} | {url}], output_format: "png", size}. URLs point at
// /v1/jobs/{id}/images/{index} on this server, kept while the job's result is (result_ttl_s).
//
// Streaming (stream: true) sends OpenAI's events:
//   event: image_generation.partial_image  data: {type, b64_json, created_at, size, output_format,
//                                                 partial_image_index}   (a live preview: TAESD or latent)
//   event: image_generation.completed      data: {type, b64_json, created_at, size, output_format,
//                                                 usage}                 (one per image)
//   (image_edit.partial_image and image_edit.completed for /v1/images/edits)
//   event: error                           data: {type: "error", error: {message, type, param, code}}
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/job.h"
#include "server/json_fields.h"
#include "server/limits.h"

namespace sdr {

struct OpenAiImageRequest {
  ImageRequest image;
  bool response_url = false;  // response_format "url"
  bool stream = false;
  int partial_images = 0;
  bool edit = false;          // /v1/images/edits (openai_edits.h): stream events are image_edit.*
};

// `allow_width_height`: the jobs API's width + height fields (instead of size).
MaybeError ParseOpenAiImageRequest(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                                   const GenerateParams& defaults, bool allow_width_height, OpenAiImageRequest* out);
// The fields alone, unresolved and unchecked against the provider (the edits' form reuses them).
MaybeError ParseOpenAiImageFields(const JsonFields& f, const RequestLimits& limits, bool allow_width_height,
                                  OpenAiImageRequest* out);

// `base_url`: "http://host:port" the client reached us at (for url answers).
nlohmann::json OpenAiImagesResponse(const Job& job, const JobSnapshot& s, bool as_url, const std::string& base_url);

// The stream events' type prefix: "image_generation", or "image_edit" for edits.
std::string_view StreamEventPrefix(const OpenAiImageRequest& r);
std::string PartialImageEventJson(std::string_view prefix, const JobSnapshot& s, const std::string& preview_png_b64,
                                  int index);
std::string CompletedImageEventJson(std::string_view prefix, const JobSnapshot& s, const GeneratedPng& image);

// GET /v1/models: {object: "list", data: [{id, object: "model", created, owned_by}]}.
nlohmann::json OpenAiModelsResponse(const std::string& model_name, std::string_view provider);

}  // namespace sdr
