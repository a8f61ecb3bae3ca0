#include "server/input_image.h"

#include "imagegen/base64.h"

namespace sdr {

MaybeError StripDataUri(std::string_view field, std::string_view text, std::string_view* b64) {
  *b64 = text;
  if (text.substr(0, 5) != "data:") return std::nullopt;
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos) {
    return FieldError(std::string(field), std::string(field) + ": a data: URI must be base64 (data:image/png;base64,...)");
  }
  b64->remove_prefix(comma + 1);
  return std::nullopt;
}

MaybeError DecodePngField(std::string_view field, std::string_view bytes, PngWithAlpha* out) {
  if (bytes.empty()) return FieldError(std::string(field), std::string(field) + " is empty: a PNG image is required");
  auto png = DecodePngWithAlpha(bytes);
  if (!png.ok()) return FieldError(std::string(field), std::string(field) + ": " + png.status().message());
  *out = std::move(png).value();
  return std::nullopt;
}

MaybeError DecodeBase64Png(std::string_view field, std::string_view text, PngWithAlpha* out) {
  std::string_view b64;
  if (auto e = StripDataUri(field, text, &b64)) return e;
  auto bytes = DecodeBase64(b64);
  if (!bytes.ok()) return FieldError(std::string(field), std::string(field) + " is not base64: " + bytes.status().message());
  return DecodePngField(field, *bytes, out);
}

RgbImage OpenAiMaskToRepaint(const PngWithAlpha& mask) {
  RgbImage out = mask.rgb;
  if (mask.alpha.empty()) return out;
  for (size_t i = 0; i < mask.alpha.size() && i * 3 + 2 < out.rgb.size(); ++i) {
    const uint8_t v = static_cast<uint8_t>(255 - mask.alpha[i]);
    out.rgb[i * 3] = out.rgb[i * 3 + 1] = out.rgb[i * 3 + 2] = v;
  }
  return out;
}

void InvertMask(RgbImage* mask) {
  for (uint8_t& v : mask->rgb) v = static_cast<uint8_t>(255 - v);
}

}  // namespace sdr
