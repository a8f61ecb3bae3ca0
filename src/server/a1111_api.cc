#include "server/a1111_api.h"

#include <ctime>
#include <variant>

#include "imagegen/base64.h"
#include "runtime/infotext.h"
#include "runtime/png_text_reader.h"
#include "server/input_image.h"
#include "server/json_fields.h"

namespace sdr {
namespace {

using nlohmann::json;

// A1111's job_timestamp: local time as YYYYmmddHHMMSS.
std::string Timestamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm);
  return buf;
}

std::string SamplerDisplayName(const ImageRequest& r) {
  return r.sampler ? std::string(A1111Name(*r.sampler)) : std::string();
}

std::string SchedulerDisplayName(const ImageRequest& r) {
  return r.scheduler ? std::string(A1111ScheduleName(*r.scheduler)) : std::string();
}

// The fields txt2img and img2img share (everything but the images).
MaybeError ParseA1111Common(const JsonFields& f, const RequestLimits& limits, const GenerateParams& defaults,
                            A1111Request* out) {
  ImageRequest& r = out->image;
  if (auto e = ReadPrompt(f, "prompt", limits, &r.prompt)) return e;
  const char* sampler_field = f.Has("sampler_name") || !f.Has("sampler_index") ? "sampler_name" : "sampler_index";
  if (auto e = ReadEngineSettings(f, limits, sampler_field, &r)) return e;
  if (f.Has("width") || f.Has("height")) {
    int64_t w = defaults.width, h = defaults.height;  // A1111: each side defaults on its own
    if (auto e = f.Int("width", int64_t{limits.min_side}, int64_t{limits.max_side}, &w)) return e;
    if (auto e = f.Int("height", int64_t{limits.min_side}, int64_t{limits.max_side}, &h)) return e;
    if (auto e = CheckSide("width", w, limits)) return e;
    if (auto e = CheckSide("height", h, limits)) return e;
    r.width = static_cast<int>(w);
    r.height = static_cast<int>(h);
  }
  if (auto e = f.Int("batch_size", 1, limits.max_n, &out->batch_size)) return e;
  if (auto e = f.Int("n_iter", 1, limits.max_n, &out->n_iter)) return e;
  if (out->batch_size * out->n_iter > limits.max_n) {
    return FieldError("batch_size", "batch_size * n_iter = " + std::to_string(out->batch_size * out->n_iter) +
                                        " images: at most " + std::to_string(limits.max_n));
  }
  r.n = out->batch_size * out->n_iter;
  const json* overrides = nullptr;
  if (auto e = f.Object("override_settings", &overrides)) return e;
  if (overrides != nullptr) {
    const JsonFields o(*overrides);
    if (auto e = o.Int("CLIP_stop_at_last_layers", 1, GenerateParams::kMaxClipSkip, &r.clip_skip)) {
      e->param = "override_settings.CLIP_stop_at_last_layers";
      e->message = "override_settings." + e->message;
      return e;
    }
  }
  if (auto e = f.Bool("send_images", &out->send_images)) return e;
  return std::nullopt;
}

// init_images (one), denoising_strength, mask, mask_blur, inpainting_fill, inpainting_mask_invert.
MaybeError ParseA1111ImageInput(const JsonFields& f, const RequestLimits& limits, A1111Request* out) {
  ImageRequest& r = out->image;
  const json* init_images = nullptr;
  if (auto e = f.Array("init_images", &init_images)) return e;
  if (init_images == nullptr || init_images->empty()) {
    return FieldError("init_images", "init_images is required: a list of one base64 PNG");
  }
  if (init_images->size() > 1) {
    return FieldError("init_images", "init_images holds " + std::to_string(init_images->size()) +
                                         " images: one is supported (every image of the batch starts from it)");
  }
  if (!(*init_images)[0].is_string()) {
    return FieldError("init_images", "init_images[0] must be a base64 PNG string, got " +
                                         std::string(JsonTypeName((*init_images)[0])));
  }
  PngWithAlpha init;
  if (auto e = DecodeBase64Png("init_images", (*init_images)[0].get_ref<const std::string&>(), &init)) return e;
  r.init_image = std::move(init.rgb);
  double strength = r.strength;
  if (auto e = f.Number("denoising_strength", 0, 1, &strength)) return e;
  r.strength = static_cast<float>(strength);
  std::string mask;
  if (auto e = f.String("mask", limits.max_image_body_bytes, &mask)) return e;
  if (!mask.empty()) {
    PngWithAlpha m;
    if (auto e = DecodeBase64Png("mask", mask, &m)) return e;
    r.mask = std::move(m.rgb);  // A1111 reads the mask's grey level (PIL convert("L")): alpha is ignored
  }
  r.mask_blur = kDefaultServerMaskBlur;
  if (auto e = f.Int("mask_blur", 0, GenerateParams::kMaxMaskBlur, &r.mask_blur)) return e;
  int fill = static_cast<int>(InpaintingFill::kOriginal);
  if (auto e = f.Int("inpainting_fill", 0, 3, &fill)) return e;
  r.inpainting_fill = static_cast<InpaintingFill>(fill);
  bool invert = false;  // A1111 sends 0 / 1; a boolean is taken too
  if (f.Bool("inpainting_mask_invert", &invert)) {
    int v = 0;
    if (auto e = f.Int("inpainting_mask_invert", 0, 1, &v)) return e;
    invert = v == 1;
  }
  out->inpainting_mask_invert = invert;
  if (out->inpainting_mask_invert && !r.mask.empty()) InvertMask(&r.mask);
  out->img2img = true;
  return std::nullopt;
}

}  // namespace

MaybeError ParseA1111Txt2Img(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                             const GenerateParams& defaults, A1111Request* out) {
  auto parsed = ParseJsonObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const JsonFields f(std::get<json>(parsed));
  if (auto e = ParseA1111Common(f, limits, defaults, out)) return e;
  ResolveDefaults(caps, defaults, &out->image);
  return CheckAgainstProvider(out->image, caps);
}

MaybeError ParseA1111Img2Img(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                             const GenerateParams& defaults, A1111Request* out) {
  auto parsed = ParseJsonObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const JsonFields f(std::get<json>(parsed));
  if (auto e = ParseA1111Common(f, limits, defaults, out)) return e;
  if (auto e = ParseA1111ImageInput(f, limits, out)) return e;
  ResolveDefaults(caps, defaults, &out->image);
  return CheckAgainstProvider(out->image, caps);
}

json A1111ImagesResponse(const A1111Request& request, const JobSnapshot& s) {
  const ImageRequest& r = request.image;
  json images = json::array(), seeds = json::array(), infotexts = json::array(), prompts = json::array(),
       negatives = json::array();
  int64_t first_seed = r.seed;
  if (s.result != nullptr) {
    for (const GeneratedPng& img : s.result->images) {
      if (request.send_images) images.push_back(EncodeBase64(img.png));
      seeds.push_back(img.seed);
      infotexts.push_back(img.infotext);
      prompts.push_back(r.prompt);
      negatives.push_back(r.negative_prompt);
    }
    if (!s.result->images.empty()) first_seed = s.result->images[0].seed;
  }
  const json parameters = {{"prompt", r.prompt},
                           {"negative_prompt", r.negative_prompt},
                           {"seed", r.seed},
                           {"sampler_name", SamplerDisplayName(r)},
                           {"scheduler", SchedulerDisplayName(r)},
                           {"batch_size", request.batch_size},
                           {"n_iter", request.n_iter},
                           {"steps", r.steps},
                           {"cfg_scale", r.cfg_scale},
                           {"width", r.width},
                           {"height", r.height},
                           {"override_settings", {{"CLIP_stop_at_last_layers", r.clip_skip > 0 ? r.clip_skip : 1}}},
                           {"send_images", request.send_images},
                           {"save_images", false}};
  json params = parameters;
  if (request.img2img) {  // as A1111 answers img2img: the images themselves are not echoed
    params["init_images"] = nullptr;
    params["mask"] = nullptr;
    params["denoising_strength"] = r.strength;
    params["mask_blur"] = r.mask_blur;
    params["inpainting_fill"] = static_cast<int>(r.inpainting_fill);
    params["inpainting_mask_invert"] = request.inpainting_mask_invert ? 1 : 0;
  }
  const json info = {{"prompt", r.prompt},
                     {"all_prompts", prompts},
                     {"negative_prompt", r.negative_prompt},
                     {"all_negative_prompts", negatives},
                     {"seed", first_seed},
                     {"all_seeds", seeds},
                     {"subseed", -1},
                     {"all_subseeds", seeds},
                     {"subseed_strength", 0},
                     {"width", r.width},
                     {"height", r.height},
                     {"sampler_name", SamplerDisplayName(r)},
                     {"scheduler", SchedulerDisplayName(r)},
                     {"cfg_scale", r.cfg_scale},
                     {"steps", r.steps},
                     {"batch_size", request.batch_size},
                     {"n_iter", request.n_iter},
                     {"clip_skip", r.clip_skip > 0 ? r.clip_skip : 1},
                     {"sd_model_name", s.result != nullptr ? json(s.result->model) : json(nullptr)},
                     {"index_of_first_image", 0},
                     {"infotexts", infotexts},
                     {"styles", json::array()},
                     {"job_timestamp", Timestamp(s.started_at > 0 ? s.started_at : s.created_at)},
                     {"version", "sdruntime"}};
  json info_json = info;
  if (request.img2img) info_json["denoising_strength"] = r.strength;
  return {{"images", std::move(images)}, {"parameters", params}, {"info", DumpJson(info_json)}};
}

json A1111ProgressResponse(const JobSnapshot* running, const std::string& job_id, int job_count,
                           bool skip_current_image) {
  json state = {{"skipped", false},
                {"interrupted", running != nullptr && running->cancel_requested},
                {"stopping_generation", false},
                {"job", running != nullptr ? job_id : ""},
                {"job_count", job_count},
                {"job_timestamp", running != nullptr ? Timestamp(running->started_at) : "0"},
                {"job_no", 0},
                {"sampling_step", running != nullptr ? running->progress.step : 0},
                {"sampling_steps", running != nullptr ? running->progress.total_steps : 0}};
  json current_image = nullptr;
  double progress = 0, eta = 0;
  if (running != nullptr) {
    progress = running->progress.fraction;
    eta = running->progress.eta_s > 0 ? running->progress.eta_s : 0;
    // A1111 sends the bare base64 of the preview (no data: prefix).
    const std::string& uri = running->progress.preview;
    const size_t comma = uri.find(',');
    if (!skip_current_image && comma != std::string::npos) current_image = uri.substr(comma + 1);
  }
  return {{"progress", progress}, {"eta_relative", eta}, {"state", state}, {"current_image", current_image},
          {"textinfo", nullptr}};
}

MaybeError A1111PngInfo(std::string_view body, const RequestLimits& limits, json* out) {
  auto parsed = ParseJsonObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const JsonFields f(std::get<json>(parsed));
  std::string image;
  if (auto e = f.String("image", limits.max_image_body_bytes, &image)) return e;
  if (image.empty()) return FieldError("image", "image is required: a base64 PNG (or a data:image/png;base64 URI)");
  std::string_view b64;
  if (auto e = StripDataUri("image", image, &b64)) return e;
  auto bytes = DecodeBase64(b64);
  if (!bytes.ok()) return FieldError("image", "image is not base64: " + bytes.status().message());
  auto chunks = ReadPngTextChunks(*bytes);
  if (!chunks.ok()) return FieldError("image", "image: " + chunks.status().message());
  std::string info;
  json items = json::object();
  for (const auto& [key, text] : *chunks) {
    if (key == "parameters" && info.empty()) {
      info = text;
    } else {
      items[key] = text;
    }
  }
  json parameters = json::object();
  if (!info.empty()) {
    const ParsedInfotext p = ParseInfotext(info);
    parameters["Prompt"] = p.prompt;
    parameters["Negative prompt"] = p.negative_prompt;
    for (const auto& [key, value] : p.params) {
      const size_t x = value.find('x');
      const bool size = x != std::string::npos && x > 0 && x + 1 < value.size() &&
                        value.find_first_not_of("0123456789x") == std::string::npos && value.find('x', x + 1) == std::string::npos;
      if (size) {
        parameters[key + "-1"] = value.substr(0, x);
        parameters[key + "-2"] = value.substr(x + 1);
      } else {
        parameters[key] = value;
      }
    }
  }
  *out = {{"info", info}, {"items", items}, {"parameters", parameters}};
  return std::nullopt;
}

json A1111Samplers() {
  json list = json::array();
  for (SamplerKind k : AllSamplerKinds()) {
    list.push_back({{"name", A1111Name(k)}, {"aliases", json::array({ToString(k)})}, {"options", json::object()}});
  }
  return list;
}

json A1111Schedulers() {
  json list = json::array();
  for (Scheduler s : AllSchedulers()) {
    list.push_back({{"name", ToString(s)},
                    {"label", A1111ScheduleName(s)},
                    {"aliases", json::array()},
                    {"default_rho", s == Scheduler::kKarras ? json(7.0) : json(-1)},
                    {"need_inner_model", false}});
  }
  return list;
}

json A1111SdModels(const std::string& model_name, std::string_view provider) {
  return json::array({{{"title", model_name},
                       {"model_name", model_name},
                       {"hash", nullptr},
                       {"sha256", nullptr},
                       {"filename", model_name},
                       {"config", nullptr},
                       {"provider", provider}}});
}

json A1111Options(const std::string& model_name, const GenerateParams& defaults) {
  return {{"sd_model_checkpoint", model_name},
          {"CLIP_stop_at_last_layers", defaults.clip_skip},
          {"samples_format", "png"},
          {"sd_checkpoint_hash", nullptr}};
}

}  // namespace sdr
