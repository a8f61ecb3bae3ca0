#include "server/openai_edits.h"

#include <algorithm>
#include <array>

#include "server/input_image.h"

namespace sdr {
namespace {

using nlohmann::json;

// The text fields read as JSON numbers or booleans; every other text field is a string.
constexpr std::array<std::string_view, 9> kTypedFields = {"n",         "steps",          "cfg_scale",
                                                          "seed",      "clip_skip",      "partial_images",
                                                          "stream",    "strength",       "mask_blur"};

bool IsTyped(const std::string& name) {
  return std::find(kTypedFields.begin(), kTypedFields.end(), name) != kTypedFields.end();
}

// The first file part named one of `names`; null when none.
const httplib::MultipartFormData* FilePart(const httplib::MultipartFormDataMap& form,
                                           std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto it = form.find(name);
    if (it != form.end()) return &it->second;
  }
  return nullptr;
}

// The form's text parts as a JSON object, for JsonFields.
json TextFields(const httplib::MultipartFormDataMap& form) {
  json object = json::object();
  for (const auto& [name, part] : form) {
    if (name == "image" || name == "image[]" || name == "mask" || object.contains(name)) continue;
    if (IsTyped(name)) {
      json v = json::parse(part.content, nullptr, /*allow_exceptions=*/false);
      if (!v.is_discarded() && (v.is_number() || v.is_boolean() || v.is_null())) {
        object[name] = std::move(v);
        continue;
      }
    }
    object[name] = part.content;  // a typed field that does not parse stays a string: its error names it
  }
  return object;
}

bool AnyTransparent(const std::vector<uint8_t>& alpha) {
  return std::any_of(alpha.begin(), alpha.end(), [](uint8_t a) { return a < 255; });
}

}  // namespace

MaybeError ParseOpenAiEditRequest(const std::string& content_type, const httplib::MultipartFormDataMap& form,
                                  const RequestLimits& limits, const ProviderCapabilities& caps,
                                  const GenerateParams& defaults, OpenAiImageRequest* out) {
  if (content_type.rfind("multipart/form-data", 0) != 0) {
    return FieldError("image", "images/edits takes multipart/form-data (image and mask as PNG file parts), got " +
                                   (content_type.empty() ? std::string("no Content-Type") : content_type.substr(0, 64)));
  }
  out->edit = true;
  const json fields = TextFields(form);
  const JsonFields f(fields);
  ImageRequest& r = out->image;
  if (auto e = ParseOpenAiImageFields(f, limits, /*allow_width_height=*/false, out)) return e;

  const httplib::MultipartFormData* image_part = FilePart(form, {"image", "image[]"});
  if (image_part == nullptr) return FieldError("image", "image is required: a PNG file part");
  if (form.count("image") + form.count("image[]") > 1) {
    return FieldError("image", "one image only: every image of the batch starts from it");
  }
  PngWithAlpha image;
  if (auto e = DecodePngField("image", image_part->content, &image)) return e;
  r.init_image = image.rgb;

  if (const httplib::MultipartFormData* mask_part = FilePart(form, {"mask"})) {
    PngWithAlpha mask;
    if (auto e = DecodePngField("mask", mask_part->content, &mask)) return e;
    if (mask.rgb.width != image.rgb.width || mask.rgb.height != image.rgb.height) {
      return FieldError("mask", "mask is " + std::to_string(mask.rgb.width) + "x" + std::to_string(mask.rgb.height) +
                                    ": it must have the image's size, " + std::to_string(image.rgb.width) + "x" +
                                    std::to_string(image.rgb.height));
    }
    r.mask = OpenAiMaskToRepaint(mask);
  } else if (AnyTransparent(image.alpha)) {
    PngWithAlpha alpha_only;
    alpha_only.rgb = image.rgb;
    alpha_only.alpha = std::move(image.alpha);
    r.mask = OpenAiMaskToRepaint(alpha_only);
  }
  r.strength = r.mask.empty() ? GenerateParams{}.strength : 1.0f;
  double strength = r.strength;
  if (auto e = f.Number("strength", 0, 1, &strength)) return e;
  r.strength = static_cast<float>(strength);
  r.mask_blur = kDefaultServerMaskBlur;
  if (auto e = f.Int("mask_blur", 0, GenerateParams::kMaxMaskBlur, &r.mask_blur)) return e;
  ResolveDefaults(caps, defaults, &r);
  return CheckAgainstProvider(r, caps);
}

}  // namespace sdr
