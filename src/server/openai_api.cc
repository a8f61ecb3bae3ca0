#include "server/openai_api.h"

#include <variant>

#include "imagegen/base64.h"
#include "server/json_fields.h"

namespace sdr {
namespace {

using nlohmann::json;

std::string SizeOf(const JobSnapshot& s, const ImageRequest& r) {
  if (s.result != nullptr && !s.result->images.empty()) {
    return std::to_string(s.result->images[0].width) + "x" + std::to_string(s.result->images[0].height);
  }
  return std::to_string(r.width) + "x" + std::to_string(r.height);
}

}  // namespace

MaybeError ParseOpenAiImageRequest(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                                   const GenerateParams& defaults, bool allow_width_height, OpenAiImageRequest* out) {
  auto parsed = ParseJsonObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const JsonFields f(std::get<json>(parsed));
  if (auto e = ParseOpenAiImageFields(f, limits, allow_width_height, out)) return e;
  ResolveDefaults(caps, defaults, &out->image);
  return CheckAgainstProvider(out->image, caps);
}

MaybeError ParseOpenAiImageFields(const JsonFields& f, const RequestLimits& limits, bool allow_width_height,
                                  OpenAiImageRequest* out) {
  ImageRequest& r = out->image;
  if (auto e = ReadPrompt(f, "prompt", limits, &r.prompt)) return e;
  std::string ignored;
  if (auto e = f.String("model", 256, &ignored)) return e;
  if (auto e = f.String("user", 1024, &ignored)) return e;
  if (auto e = f.Int("n", 1, limits.max_n, &r.n)) return e;
  std::string size;
  if (auto e = f.String("size", 32, &size)) return e;
  if (!size.empty()) {
    if (auto e = ParseSizeText("size", size, limits, &r.width, &r.height)) return e;
  }
  if (allow_width_height && (f.Has("width") || f.Has("height"))) {
    if (!size.empty()) return FieldError("size", "give size or width and height, not both");
    int64_t w = 0, h = 0;
    if (auto e = f.Int("width", int64_t{limits.min_side}, int64_t{limits.max_side}, &w)) return e;
    if (auto e = f.Int("height", int64_t{limits.min_side}, int64_t{limits.max_side}, &h)) return e;
    if (!f.Has("width") || !f.Has("height")) {
      return FieldError(f.Has("width") ? "height" : "width", "give both width and height, or neither");
    }
    if (auto e = CheckSide("width", w, limits)) return e;
    if (auto e = CheckSide("height", h, limits)) return e;
    r.width = static_cast<int>(w);
    r.height = static_cast<int>(h);
  }
  std::string format;
  if (auto e = f.String("response_format", 32, &format)) return e;
  if (!format.empty() && format != "b64_json" && format != "url") {
    return FieldError("response_format", "response_format \"" + format.substr(0, 32) + "\" must be b64_json or url");
  }
  out->response_url = format == "url";
  std::string output_format;
  if (auto e = f.String("output_format", 32, &output_format)) return e;
  if (!output_format.empty() && output_format != "png") {
    return FieldError("output_format", "output_format \"" + output_format.substr(0, 32) + "\" is not supported: png only");
  }
  if (auto e = f.Bool("stream", &out->stream)) return e;
  if (auto e = f.Int("partial_images", 0, 3, &out->partial_images)) return e;
  return ReadEngineSettings(f, limits, "sampler", &r);
}

json OpenAiImagesResponse(const Job& job, const JobSnapshot& s, bool as_url, const std::string& base_url) {
  json data = json::array();
  if (s.result != nullptr) {
    for (size_t i = 0; i < s.result->images.size(); ++i) {
      const GeneratedPng& img = s.result->images[i];
      json item;
      if (as_url) {
        item["url"] = base_url + "/v1/jobs/" + job.id() + "/images/" + std::to_string(i);
      } else {
        item["b64_json"] = EncodeBase64(img.png);
      }
      if (!img.revised_prompt.empty()) item["revised_prompt"] = img.revised_prompt;
      data.push_back(std::move(item));
    }
  }
  return {{"created", static_cast<int64_t>(s.finished_at)},
          {"data", std::move(data)},
          {"output_format", "png"},
          {"size", SizeOf(s, job.request())}};
}

std::string_view StreamEventPrefix(const OpenAiImageRequest& r) { return r.edit ? "image_edit" : "image_generation"; }

std::string PartialImageEventJson(std::string_view prefix, const JobSnapshot& s, const std::string& preview_png_b64,
                                  int index) {
  return DumpJson({{"type", std::string(prefix) + ".partial_image"},
                   {"b64_json", preview_png_b64},
                   {"created_at", static_cast<int64_t>(UnixNow())},
                   {"size", "auto"},
                   {"output_format", "png"},
                   {"partial_image_index", index}});
}

std::string CompletedImageEventJson(std::string_view prefix, const JobSnapshot& s, const GeneratedPng& image) {
  return DumpJson({{"type", std::string(prefix) + ".completed"},
                   {"b64_json", EncodeBase64(image.png)},
                   {"created_at", static_cast<int64_t>(s.finished_at)},
                   {"size", std::to_string(image.width) + "x" + std::to_string(image.height)},
                   {"output_format", "png"},
                   {"usage", {{"input_tokens", 0}, {"output_tokens", 0}, {"total_tokens", 0}}}});
}

json OpenAiModelsResponse(const std::string& model_name, std::string_view provider) {
  return {{"object", "list"},
          {"data", json::array({{{"id", model_name},
                                 {"object", "model"},
                                 {"created", 0},
                                 {"owned_by", provider == "local" ? "sdruntime" : std::string(provider)}}})}};
}

}  // namespace sdr
