// Requests that carry images: A1111 img2img (base64 init image and mask, data: URIs, strength,
// inpainting fill and invert), OpenAI edits (multipart image and mask, the alpha convention),
// the image-input checks of ImageRequest, and each bad input a 400 naming its field.
#include <gtest/gtest.h>

#include <httplib.h>

#include "imagegen/base64.h"
#include "runtime/png_reader.h"
#include "runtime/png_writer.h"
#include "server/a1111_api.h"
#include "server/input_image.h"
#include "server/openai_edits.h"
#include "testing/image_fixtures.h"

namespace sdr {
namespace {

using nlohmann::json;

ProviderCapabilities LocalCaps() {
  ProviderCapabilities c;
  c.default_size = {512, 512};
  c.max_n = 64;
  c.engine_settings = true;
  c.max_steps = 1000;
  c.image_input = true;
  return c;
}

std::string Png(const RgbImage& img) { return EncodePng(img.rgb.data(), img.width, img.height).value(); }

// A 64x48 mask: white (repaint) in the left half.
RgbImage LeftHalfMask(int w = 64, int h = 48) {
  RgbImage m{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 0)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w / 2; ++x)
      for (int c = 0; c < 3; ++c) m.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = 255;
  return m;
}

ApiError Img2ImgError(const json& body, A1111Request* out = nullptr, ProviderCapabilities caps = LocalCaps()) {
  A1111Request r;
  auto e = ParseA1111Img2Img(body.dump(), RequestLimits{}, caps, GenerateParams{}, &r);
  if (out != nullptr) *out = r;
  return e.value_or(ApiError{ErrorCode::kOk, "", ""});
}

TEST(ServerImageInputTest, A1111Img2ImgReadsTheImagesAndSettings) {
  const RgbImage init = testing::PatternImage(64, 48);
  const std::string b64 = EncodeBase64(Png(init));
  A1111Request r;
  // Bare base64, no size: the output takes the init image's size.
  ApiError e = Img2ImgError({{"prompt", "a cat"}, {"init_images", {b64}}, {"steps", 3}}, &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_TRUE(r.img2img);
  EXPECT_EQ(r.image.init_image.width, 64);
  EXPECT_EQ(r.image.init_image.height, 48);
  EXPECT_EQ(r.image.init_image.rgb, init.rgb);
  EXPECT_FLOAT_EQ(r.image.strength, 0.75f);  // A1111's default
  EXPECT_EQ(r.image.width, 64);
  EXPECT_EQ(r.image.height, 64);  // 48 is below min_side: clamped
  EXPECT_TRUE(r.image.mask.empty());

  // A data: URI, a mask, every setting.
  e = Img2ImgError({{"prompt", "a cat"},
                    {"init_images", {"data:image/png;base64," + b64}},
                    {"denoising_strength", 0.3},
                    {"mask", EncodeBase64(Png(LeftHalfMask()))},
                    {"mask_blur", 2},
                    {"inpainting_fill", 1},
                    {"inpainting_mask_invert", 1},
                    {"width", 128},
                    {"height", 96},
                    {"resize_mode", 1}},
                   &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_FLOAT_EQ(r.image.strength, 0.3f);
  EXPECT_EQ(r.image.width, 128);
  EXPECT_EQ(r.image.mask_blur, 2);
  ASSERT_EQ(r.image.mask.width, 64);
  EXPECT_TRUE(r.inpainting_mask_invert);
  EXPECT_EQ(r.image.mask.rgb[0], 0);                    // left: white, inverted to keep
  EXPECT_EQ(r.image.mask.rgb[(64 - 1) * 3], 255);       // right: black, inverted to repaint
  // The answer echoes the settings, not the images.
  JobSnapshot s;
  const json answer = A1111ImagesResponse(r, s);
  EXPECT_EQ(answer["parameters"]["denoising_strength"].get<double>(), 0.3f);
  EXPECT_TRUE(answer["parameters"]["init_images"].is_null());
  EXPECT_EQ(answer["parameters"]["inpainting_mask_invert"], 1);

  // No mask_blur given: A1111's 4.
  e = Img2ImgError({{"prompt", "x"}, {"init_images", {b64}}, {"mask", EncodeBase64(Png(LeftHalfMask()))}}, &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_EQ(r.image.mask_blur, 4);
  EXPECT_EQ(r.image.mask.rgb[0], 255);  // not inverted
}

TEST(ServerImageInputTest, A1111Img2ImgBadInputNamesTheField) {
  const std::string b64 = EncodeBase64(Png(testing::PatternImage(64, 48)));
  const std::string jpeg = EncodeBase64(std::string("\xff\xd8\xff\xe0rest of a jpeg", 18));
  struct Case {
    json body;
    std::string param;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{{"prompt", "x"}}, "init_images", "init_images is required"},
      {{{"prompt", "x"}, {"init_images", json::array()}}, "init_images", "init_images is required"},
      {{{"prompt", "x"}, {"init_images", b64}}, "init_images", "must be an array"},
      {{{"prompt", "x"}, {"init_images", {b64, b64}}}, "init_images", "one is supported"},
      {{{"prompt", "x"}, {"init_images", {7}}}, "init_images", "must be a base64 PNG string"},
      {{{"prompt", "x"}, {"init_images", {"not base64 !!"}}}, "init_images", "not base64"},
      {{{"prompt", "x"}, {"init_images", {jpeg}}}, "init_images", "JPEG"},
      {{{"prompt", "x"}, {"init_images", {EncodeBase64("hello")}}}, "init_images", "not a PNG"},
      {{{"prompt", "x"}, {"init_images", {"data:image/png,abc"}}}, "init_images", "must be base64"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"denoising_strength", 1.5}}, "denoising_strength", "[0, 1]"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"denoising_strength", "high"}}, "denoising_strength", "number"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"mask", 5}}, "mask", "must be a string"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"mask", jpeg}}, "mask", "JPEG"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"mask_blur", 65}}, "mask_blur", "[0, 64]"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"inpainting_fill", 7}}, "inpainting_fill", "[0, 3]"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"inpainting_mask_invert", 2}}, "inpainting_mask_invert", "[0, 1]"},
      {{{"init_images", {b64}}}, "prompt", "prompt is required"},
  };
  for (const Case& c : cases) {
    const ApiError e = Img2ImgError(c.body);
    EXPECT_EQ(e.code, ErrorCode::kInvalidParams) << c.body.dump().substr(0, 200);
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_EQ(e.param, c.param) << e.message;
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
  }
  // fill (0) is refused by name with a mask; 1-3 are taken; without a mask the field does nothing.
  const std::string mask = EncodeBase64(Png(LeftHalfMask()));
  ApiError e = Img2ImgError({{"prompt", "x"}, {"init_images", {b64}}, {"mask", mask}, {"inpainting_fill", 0}});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParams);
  EXPECT_NE(e.message.find("inpainting_fill 0 (fill) is not supported"), std::string::npos) << e.message;
  for (int fill : {1, 2, 3}) {
    EXPECT_EQ(Img2ImgError({{"prompt", "x"}, {"init_images", {b64}}, {"mask", mask}, {"inpainting_fill", fill}}).code,
              ErrorCode::kOk)
        << fill;
  }
  EXPECT_EQ(Img2ImgError({{"prompt", "x"}, {"init_images", {b64}}, {"inpainting_fill", 0}}).code, ErrorCode::kOk);
  // A provider without image input refuses it, naming init_image.
  ProviderCapabilities cloud = LocalCaps();
  cloud.image_input = false;
  e = Img2ImgError({{"prompt", "x"}, {"init_images", {b64}}}, nullptr, cloud);
  EXPECT_EQ(e.code, ErrorCode::kInvalidParams);
  EXPECT_NE(e.message.find("init_image: this provider does not take input images"), std::string::npos) << e.message;
}

// An OpenAI edits form: `fields` as text parts, plus the files.
ApiError EditError(const std::vector<testing::FormPart>& parts, OpenAiImageRequest* out = nullptr,
                   const std::string& content_type = "multipart/form-data; boundary=x") {
  httplib::MultipartFormDataMap form;
  for (const auto& p : parts) form.emplace(p.name, httplib::MultipartFormData{p.name, p.content, p.filename, p.content_type});
  OpenAiImageRequest r;
  auto e = ParseOpenAiEditRequest(content_type, form, RequestLimits{}, LocalCaps(), GenerateParams{}, &r);
  if (out != nullptr) *out = r;
  return e.value_or(ApiError{ErrorCode::kOk, "", ""});
}

testing::FormPart File(const std::string& name, const std::string& png) { return {name, png, name + ".png", "image/png"}; }

TEST(ServerImageInputTest, OpenAiEditsReadTheFormAndTheAlphaMask) {
  const RgbImage init = testing::PatternImage(64, 48);
  // OpenAI's mask: transparent (alpha 0) on the right half = the area to edit.
  std::vector<uint8_t> rgba(64 * 48 * 4, 255);
  for (int y = 0; y < 48; ++y)
    for (int x = 32; x < 64; ++x) rgba[(static_cast<size_t>(y) * 64 + x) * 4 + 3] = 0;
  OpenAiImageRequest r;
  ApiError e = EditError({{"prompt", "a hat"}, {"n", "2"}, {"size", "128x96"}, {"response_format", "url"},
                          {"steps", "3"}, {"seed", "5"}, {"stream", "false"}, {"model", "dall-e-2"},
                          File("image", Png(init)), File("mask", testing::EncodeRgbaPng(rgba, 64, 48))},
                         &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_TRUE(r.edit);
  EXPECT_EQ(StreamEventPrefix(r), "image_edit");
  EXPECT_EQ(r.image.n, 2);
  EXPECT_EQ(r.image.width, 128);
  EXPECT_EQ(r.image.steps, 3);
  EXPECT_EQ(r.image.seed, 5);
  EXPECT_TRUE(r.response_url);
  EXPECT_EQ(r.image.init_image.rgb, init.rgb);
  ASSERT_EQ(r.image.mask.width, 64);
  EXPECT_EQ(r.image.mask.rgb[0], 0);             // opaque: keep
  EXPECT_EQ(r.image.mask.rgb[63 * 3], 255);      // transparent: repaint
  EXPECT_FLOAT_EQ(r.image.strength, 1.0f);       // with a mask: made anew
  EXPECT_EQ(r.image.mask_blur, 4);

  // A mask without alpha: white = repaint. No size: the image's. strength and mask_blur as text.
  e = EditError({{"prompt", "a hat"}, {"strength", "0.4"}, {"mask_blur", "0"}, File("image[]", Png(init)),
                 File("mask", Png(LeftHalfMask()))},
                &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_EQ(r.image.width, 64);
  EXPECT_EQ(r.image.height, 64);  // 48 is below min_side: clamped
  EXPECT_EQ(r.image.mask.rgb[0], 255);
  EXPECT_FLOAT_EQ(r.image.strength, 0.4f);
  EXPECT_EQ(r.image.mask_blur, 0);

  // No mask, a transparent image: its alpha is the mask. No mask, an opaque one: plain img2img.
  e = EditError({{"prompt", "a hat"}, File("image", testing::EncodeRgbaPng(rgba, 64, 48))}, &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  ASSERT_FALSE(r.image.mask.empty());
  EXPECT_EQ(r.image.mask.rgb[63 * 3], 255);
  e = EditError({{"prompt", "a hat"}, File("image", Png(init))}, &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_TRUE(r.image.mask.empty());
  EXPECT_FLOAT_EQ(r.image.strength, 0.75f);
}

TEST(ServerImageInputTest, OpenAiEditsBadInputNamesTheField) {
  const std::string png = Png(testing::PatternImage(64, 48));
  struct Case {
    std::vector<testing::FormPart> parts;
    std::string param;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{{"prompt", "x"}}, "image", "image is required"},
      {{{"prompt", "x"}, File("image", "")}, "image", "image is empty"},
      {{{"prompt", "x"}, File("image", "\xff\xd8\xff\xe0 jpeg bytes")}, "image", "JPEG"},
      {{{"prompt", "x"}, File("image", "GIF89a...")}, "image", "GIF"},
      {{{"prompt", "x"}, File("image", png), File("image", png)}, "image", "one image only"},
      {{{"prompt", "x"}, File("image", png), File("mask", "not a png")}, "mask", "not a PNG"},
      {{{"prompt", "x"}, File("image", png), File("mask", Png(LeftHalfMask(32, 32)))}, "mask", "image's size, 64x48"},
      {{{"prompt", "x"}, {"strength", "2"}, File("image", png)}, "strength", "[0, 1]"},
      {{{"prompt", "x"}, {"n", "two"}, File("image", png)}, "n", "integer"},
      {{{"prompt", "x"}, {"size", "12x12"}, File("image", png)}, "size", "multiple of 8"},
      {{{"prompt", "x"}, {"response_format", "jpeg"}, File("image", png)}, "response_format", "b64_json or url"},
      {{File("image", png)}, "prompt", "prompt is required"},
  };
  for (const Case& c : cases) {
    const ApiError e = EditError(c.parts);
    EXPECT_EQ(e.code, ErrorCode::kInvalidParams) << c.param;
    EXPECT_EQ(e.param, c.param) << e.message;
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
  }
  const ApiError json_body = EditError({{"prompt", "x"}}, nullptr, "application/json");
  EXPECT_EQ(json_body.param, "image");
  EXPECT_NE(json_body.message.find("multipart/form-data"), std::string::npos) << json_body.message;
}

TEST(ServerImageInputTest, ImageRequestChecksAndSizes) {
  ProviderCapabilities caps = LocalCaps();
  ImageRequest r;
  r.prompt = "x";
  r.init_image = testing::PatternImage(100, 61);
  // No size: the init image's, each side rounded down to a multiple of 8.
  EXPECT_EQ(RequestedSize(r, caps), (std::pair<int, int>{96, 64}));
  r.init_image = testing::PatternImage(20, 5000);
  EXPECT_EQ(RequestedSize(r, caps), (std::pair<int, int>{64, 2048}));  // clamped to [min_side, max_side]
  caps.sizes = {{1024, 1024}};
  EXPECT_EQ(RequestedSize(r, caps), caps.default_size);  // a fixed list: its default
  caps = LocalCaps();
  r.width = r.height = 64;
  EXPECT_TRUE(ValidateImageRequest(r, caps).ok());
  r.strength = -0.1f;
  EXPECT_NE(ValidateImageRequest(r, caps).message().find("strength"), std::string::npos);
  r.strength = 0.5f;
  r.mask = testing::PatternImage(8, 8);
  r.mask.rgb.pop_back();
  EXPECT_NE(ValidateImageRequest(r, caps).message().find("mask: 8x8"), std::string::npos);
  r.mask = {};
  r.init_image = {};
  r.mask = testing::PatternImage(8, 8);
  EXPECT_NE(ValidateImageRequest(r, caps).message().find("mask: inpainting needs an init image"), std::string::npos);
}

TEST(ServerImageInputTest, MaskConversions) {
  PngWithAlpha m;
  m.rgb = RgbImage{2, 1, {10, 10, 10, 200, 200, 200}};
  EXPECT_EQ(OpenAiMaskToRepaint(m).rgb, m.rgb.rgb);  // no alpha: as it is
  m.alpha = {0, 255};
  EXPECT_EQ(OpenAiMaskToRepaint(m).rgb, (std::vector<uint8_t>{255, 255, 255, 0, 0, 0}));
  RgbImage inv = m.rgb;
  InvertMask(&inv);
  EXPECT_EQ(inv.rgb, (std::vector<uint8_t>{245, 245, 245, 55, 55, 55}));
  // The alpha of a decoded RGBA PNG is kept; an RGB one has none.
  auto rgba = DecodePngWithAlpha(testing::EncodeRgbaPng({1, 2, 3, 4, 5, 6, 7, 8}, 2, 1));
  ASSERT_TRUE(rgba.ok());
  EXPECT_EQ(rgba->alpha, (std::vector<uint8_t>{4, 8}));
  EXPECT_EQ(rgba->rgb.rgb, (std::vector<uint8_t>{1, 2, 3, 5, 6, 7}));
  auto rgb = DecodePngWithAlpha(EncodePng(m.rgb.rgb.data(), 2, 1).value());
  ASSERT_TRUE(rgb.ok());
  EXPECT_TRUE(rgb->alpha.empty());
}

}  // namespace
}  // namespace sdr
