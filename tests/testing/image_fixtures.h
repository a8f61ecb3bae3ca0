// Input images and request bodies for the img2img / edits tests: RGBA PNGs (OpenAI's masks mark
// the area to edit by transparency, which our PNG writer never makes), patterned test pictures,
// a multipart/form-data body, and pixel comparisons.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/rgb_image.h"

namespace sdr::testing {

// rgba: [height, width, 4]. Aborts (a test bug) when libspng fails.
std::string EncodeRgbaPng(const std::vector<uint8_t>& rgba, int width, int height);

// A smooth colour pattern (a gradient with a bright disc), width x height.
RgbImage PatternImage(int width, int height);

// Mean absolute difference per channel value (0..255) of two images of one size, over the pixels
// where `where(x, y)` holds (all when empty).
double MeanAbsDiff(const RgbImage& a, const RgbImage& b, bool (*where)(int x, int y, int w, int h) = nullptr);

struct FormPart {
  std::string name;
  std::string content;
  std::string filename;      // "" = a text field
  std::string content_type;  // for files, e.g. "image/png"
};
// The body; its Content-Type is "multipart/form-data; boundary=" + kFormBoundary.
std::string MultipartBody(const std::vector<FormPart>& parts);
inline constexpr const char* kFormBoundary = "sdr-test-boundary-7d3f9a";

}  // namespace sdr::testing
