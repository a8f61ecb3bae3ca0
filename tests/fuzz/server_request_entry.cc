// Fuzz entry: an HTTP request body through the server's parsers (see fuzz_targets.h).
#include <string>

#include "core/check.h"
#include "fuzz/fuzz_targets.h"
#include "runtime/generate_params.h"
#include "server/a1111_api.h"
#include "server/openai_api.h"

namespace sdr::fuzz {
namespace {

ProviderCapabilities LocalCapabilities() {
  ProviderCapabilities c;
  c.default_size = {512, 512};
  c.max_n = 64;
  c.engine_settings = true;
  c.max_steps = 1000;
  return c;
}

// What a parsed request promises the job queue: every field inside the server's limits.
void CheckRequest(const ImageRequest& r, const RequestLimits& limits) {
  SDR_CHECK(!r.prompt.empty() && r.prompt.size() <= limits.max_prompt_bytes);
  SDR_CHECK(r.negative_prompt.size() <= limits.max_prompt_bytes);
  SDR_CHECK(r.n >= 1 && r.n <= limits.max_n);
  SDR_CHECK(r.steps >= 0 && r.steps <= limits.max_steps);
  for (int side : {r.width, r.height}) {
    SDR_CHECK(side == 0 || (side % 8 == 0 && side >= limits.min_side && side <= limits.max_side));
  }
  SDR_CHECK(r.cfg_scale >= 0 && r.cfg_scale <= 100);
}

Status FromError(const ApiError& e) {
  SDR_CHECK(!e.message.empty());
  SDR_CHECK(e.http_status() >= 400 && e.http_status() < 500);  // bad input is never a 5xx
  return InvalidArgument(e.message);
}

}  // namespace

Status FuzzServerRequest(std::string_view input) {
  if (input.empty()) return InvalidArgument("empty input");
  const RequestLimits limits;
  const ProviderCapabilities caps = LocalCapabilities();
  const GenerateParams defaults;
  const std::string_view body = input.substr(1);
  switch (static_cast<unsigned char>(input[0]) % 4) {
    case 0:
    case 1: {  // POST /v1/images/generations, POST /v1/jobs (width + height allowed)
      OpenAiImageRequest r;
      if (auto e = ParseOpenAiImageRequest(body, limits, caps, defaults, input[0] % 4 == 1, &r)) return FromError(*e);
      CheckRequest(r.image, limits);
      SDR_CHECK(r.partial_images >= 0 && r.partial_images <= 3);
      return Status::Ok();
    }
    case 2: {  // POST /sdapi/v1/txt2img, and the same body as /sdapi/v1/img2img
      A1111Request i2i;
      if (auto e = ParseA1111Img2Img(body, limits, caps, defaults, &i2i)) {
        FromError(*e).IgnoreError();
      } else {
        CheckRequest(i2i.image, limits);
        SDR_CHECK(i2i.image.init_image.valid());
      }
      A1111Request r;
      if (auto e = ParseA1111Txt2Img(body, limits, caps, defaults, &r)) return FromError(*e);
      CheckRequest(r.image, limits);
      SDR_CHECK(r.batch_size * r.n_iter == r.image.n);
      return Status::Ok();
    }
    default: {  // POST /sdapi/v1/png-info
      nlohmann::json out;
      if (auto e = A1111PngInfo(body, limits, &out)) return FromError(*e);
      SDR_CHECK(out.is_object() && out.contains("info"));
      return Status::Ok();
    }
  }
}

}  // namespace sdr::fuzz
