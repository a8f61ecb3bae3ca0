// End-to-end tests of the image-input routes and TAESD previews of `sdr serve`: the real program
// on 127.0.0.1 over the tiny random-weight model and a random TAESD decoder written by
// `sdr make-test-taesd`, driven over HTTP:
//
//   A1111 /sdapi/v1/img2img   the requested (or the init image's) size; the CLI's pixels for the
//                             same settings; strength and the init image matter; an inpainting
//                             mask leaves the unmasked pixels as they were
//   OpenAI /v1/images/edits   multipart image + alpha mask; bad input a 400 naming the field
//   job events                TAESD previews (preview_kind "taesd", image-sized) during a run
//
// The tiny model's VAE is random, so an image does not survive encode + decode: "close to the
// init image" is asserted where the engine pastes the init image back (outside an inpainting mask
// with mask_blur > 0); img2img itself is checked against `sdr generate --init-image` (the same
// pixels) and by what strength and the init image change. (The seed also draws the init latent
// from the random encoder's wide distribution, so even strength 0 depends on it here.)
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "imagegen/base64.h"
#include "runtime/png_reader.h"
#include "runtime/png_writer.h"
#include "testing/http_test_client.h"
#include "testing/image_fixtures.h"
#include "testing/model_cache.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

using nlohmann::json;
using sdr::testing::HttpCall;
using sdr::testing::HttpReply;
using sdr::testing::ServerProcess;

std::string Png(const RgbImage& img) { return EncodePng(img.rgb.data(), img.width, img.height).value(); }

RgbImage DecodeB64(const std::string& b64) {
  auto bytes = DecodeBase64(b64);
  EXPECT_TRUE(bytes.ok());
  auto img = DecodePng(bytes.ok() ? *bytes : std::string());
  EXPECT_TRUE(img.ok()) << img.status().message();
  return img.ok() ? *img : RgbImage{};
}

bool LeftHalf(int x, int, int w, int) { return x < w / 2; }
// Right of the mask's edge by more than the blur's reach (mask_blur 4: kernel radius 10).
bool FarRight(int x, int, int w, int) { return x >= w / 2 + 12; }

class ServerImg2ImgE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string out;
    const std::string taesd = dir_->File("taesd_decoder.safetensors");
    ASSERT_EQ(testing::RunCommand(std::string(SDR_BIN_DIR) + "/sdr make-test-taesd " + taesd, &out, true), 0) << out;
    server_ = new ServerProcess({"-m", testing::TinyModelPath(), "--taesd", taesd, "--preview-every", "1",
                                 "--max-concurrent", "1", "--steps", "4"},
                                {{"SD_THREADS", "1"}, {"SDR_LOG_LEVEL", "warn"}});
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0);
    }
    delete server_;
    delete dir_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->error(); }
  void TearDown() override { EXPECT_EQ(HttpCall("GET", Url("/health"), "", {}, 10).status, 200); }
  static std::string Url(const std::string& path) { return server_->Url(path); }

  // One img2img image (the first), from `init` with `extra` fields.
  static RgbImage Img2Img(const RgbImage& init, json extra, json* answer = nullptr) {
    extra["prompt"] = "a red cube";
    extra["init_images"] = {EncodeBase64(Png(init))};
    const HttpReply r = HttpCall("POST", Url("/sdapi/v1/img2img"), extra.dump());
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 500);
    if (answer != nullptr) *answer = r.Json();
    if (r.status != 200) return {};
    return DecodeB64(r.Json()["images"][0]);
  }

  static testing::TempDir* dir_;
  static ServerProcess* server_;
};
testing::TempDir* ServerImg2ImgE2eTest::dir_ = nullptr;
ServerProcess* ServerImg2ImgE2eTest::server_ = nullptr;

TEST_F(ServerImg2ImgE2eTest, A1111Img2ImgSizeStrengthAndInitImage) {
  const RgbImage init = testing::PatternImage(64, 64);
  json answer;
  // The requested size; a data: URI prefix is fine.
  const HttpReply sized = HttpCall("POST", Url("/sdapi/v1/img2img"),
                                   json{{"prompt", "a cube"},
                                        {"init_images", {"data:image/png;base64," + EncodeBase64(Png(init))}},
                                        {"width", 64},
                                        {"height", 72},
                                        {"denoising_strength", 0.5},
                                        {"seed", 3}}
                                       .dump());
  ASSERT_EQ(sized.status, 200) << sized.body.substr(0, 500);
  const RgbImage a = DecodeB64(sized.Json()["images"][0]);
  EXPECT_EQ(a.width, 64);
  EXPECT_EQ(a.height, 72);
  EXPECT_EQ(sized.Json()["parameters"]["denoising_strength"], 0.5);
  EXPECT_NE(json::parse(sized.Json()["info"].get<std::string>())["infotexts"][0].get<std::string>().find(
                "Denoising strength: 0.5"),
            std::string::npos)
      << sized.Json()["info"];
  // No size: the init image's.
  const RgbImage b = Img2Img(testing::PatternImage(80, 64), {{"seed", 1}});
  EXPECT_EQ(b.width, 80);
  EXPECT_EQ(b.height, 64);

  // The server runs what `sdr generate --init-image --strength` runs: the same pixels.
  testing::WriteFileBytes(dir_->File("init.png"), Png(init));
  const RgbImage served = Img2Img(init, {{"denoising_strength", 0.6}, {"seed", 5}});
  std::string out;
  ASSERT_EQ(testing::RunCommand("SD_THREADS=1 " + std::string(SDR_BIN_DIR) + "/sdr generate -m " +
                                    testing::TinyModelPath() + " -p 'a red cube' --steps 4 -W 64 -H 64 --seed 5" +
                                    " --init-image " + dir_->File("init.png") + " --strength 0.6 -o " +
                                    dir_->File("cli.png") + " 2>&1",
                                &out),
            0)
      << out;
  auto cli = ReadPng(dir_->File("cli.png"));
  ASSERT_TRUE(cli.ok()) << cli.status().message();
  EXPECT_EQ(testing::MeanAbsDiff(served, *cli), 0.0);
  // Strength and the init image change the result (the tiny model's random VAE does not give the
  // picture back, so "close to the init image" is checked by inpainting, below).
  const RgbImage s0 = Img2Img(init, {{"denoising_strength", 0.0}, {"seed", 5}});
  const RgbImage s1 = Img2Img(init, {{"denoising_strength", 1.0}, {"seed", 5}});
  EXPECT_GT(testing::MeanAbsDiff(s0, s1), 5.0);
  RgbImage other = init;
  for (uint8_t& v : other.rgb) v = static_cast<uint8_t>(255 - v);
  EXPECT_GT(testing::MeanAbsDiff(s0, Img2Img(other, {{"denoising_strength", 0.0}, {"seed", 5}})), 5.0);
}

TEST_F(ServerImg2ImgE2eTest, A1111InpaintingKeepsTheUnmaskedPixels) {
  const RgbImage init = testing::PatternImage(64, 64);
  RgbImage mask{64, 64, std::vector<uint8_t>(64 * 64 * 3, 0)};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) mask.rgb[(static_cast<size_t>(y) * 64 + x) * 3 + c] = 255;  // repaint the left
  const RgbImage out = Img2Img(init, {{"mask", EncodeBase64(Png(mask))}, {"denoising_strength", 1.0}, {"seed", 4}});
  ASSERT_EQ(out.width, 64);
  EXPECT_LT(testing::MeanAbsDiff(out, init, FarRight), 1.0);  // pasted back (mask_blur 4 by default)
  EXPECT_GT(testing::MeanAbsDiff(out, init, LeftHalf), 10.0);  // repainted
  // Inverted: now the left is kept.
  const RgbImage inv = Img2Img(init, {{"mask", EncodeBase64(Png(mask))},
                                      {"inpainting_mask_invert", 1},
                                      {"denoising_strength", 1.0},
                                      {"seed", 4}});
  EXPECT_LT(testing::MeanAbsDiff(inv, init, [](int x, int, int w, int) { return x < w / 2 - 12; }), 1.0);
  EXPECT_GT(testing::MeanAbsDiff(inv, init, FarRight), 10.0);
}

TEST_F(ServerImg2ImgE2eTest, A1111Img2ImgBadInputIs400NamingTheField) {
  const std::string b64 = EncodeBase64(Png(testing::PatternImage(64, 64)));
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"prompt", "x"}}, "init_images"},
      {{{"prompt", "x"}, {"init_images", {"%%% not base64"}}}, "init_images"},
      {{{"prompt", "x"}, {"init_images", {EncodeBase64("\xff\xd8\xff\xe0 a jpeg")}}}, "init_images"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"denoising_strength", 1.5}}, "denoising_strength"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"mask", EncodeBase64("GIF89a")}}, "mask"},
      {{{"prompt", "x"}, {"init_images", {b64}}, {"mask", b64}, {"inpainting_fill", 0}}, "inpainting_fill"},
  };
  for (const auto& [body, field] : cases) {
    const HttpReply r = HttpCall("POST", Url("/sdapi/v1/img2img"), body.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    const json j = r.Json();
    EXPECT_NE((j.value("detail", "") + " " + j.value("body", "")).find(field), std::string::npos) << r.body;
  }
}

TEST_F(ServerImg2ImgE2eTest, OpenAiEditsWithImageAndAlphaMask) {
  const RgbImage init = testing::PatternImage(64, 64);
  // Transparent (alpha 0) on the left: the area to edit, in OpenAI's convention.
  std::vector<uint8_t> rgba(64 * 64 * 4, 255);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 32; ++x) rgba[(static_cast<size_t>(y) * 64 + x) * 4 + 3] = 0;
  const std::vector<std::string> multipart = {std::string("Content-Type: multipart/form-data; boundary=") +
                                              testing::kFormBoundary};
  const std::string body = testing::MultipartBody({{"prompt", "a hat"},
                                                   {"n", "2"},
                                                   {"size", "64x64"},
                                                   {"seed", "9"},
                                                   {"image", Png(init), "image.png", "image/png"},
                                                   {"mask", testing::EncodeRgbaPng(rgba, 64, 64), "mask.png", "image/png"}});
  const HttpReply r = HttpCall("POST", Url("/v1/images/edits"), body, multipart);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  ASSERT_EQ(r.Json()["data"].size(), 2u);
  for (const json& d : r.Json()["data"]) {
    const RgbImage out = DecodeB64(d["b64_json"]);
    ASSERT_EQ(out.width, 64);
    ASSERT_EQ(out.height, 64);
    EXPECT_LT(testing::MeanAbsDiff(out, init, FarRight), 1.0);
    EXPECT_GT(testing::MeanAbsDiff(out, init, LeftHalf), 10.0);
  }
  // Bad input: a 400 naming the field, in OpenAI's error shape.
  const std::vector<std::pair<std::vector<testing::FormPart>, std::string>> cases = {
      {{{"prompt", "a hat"}}, "image"},
      {{{"prompt", "a hat"}, {"image", "\xff\xd8\xff\xe0 jpeg", "a.jpg", "image/jpeg"}}, "image"},
      {{{"prompt", "a hat"}, {"image", Png(init), "i.png", "image/png"}, {"mask", "nope", "m.png", "image/png"}}, "mask"},
      {{{"prompt", "a hat"},
        {"image", Png(init), "i.png", "image/png"},
        {"mask", Png(testing::PatternImage(32, 32)), "m.png", "image/png"}},
       "mask"},
      {{{"prompt", "a hat"}, {"strength", "7"}, {"image", Png(init), "i.png", "image/png"}}, "strength"},
      {{{"image", Png(init), "i.png", "image/png"}}, "prompt"},
  };
  for (const auto& [parts, field] : cases) {
    const HttpReply bad = HttpCall("POST", Url("/v1/images/edits"), testing::MultipartBody(parts), multipart);
    EXPECT_EQ(bad.status, 400) << field << ": " << bad.body;
    EXPECT_EQ(bad.Json()["error"]["param"], field) << bad.body;
  }
  // A JSON body is not a form.
  const HttpReply json_body = HttpCall("POST", Url("/v1/images/edits"), R"({"prompt": "a hat"})");
  EXPECT_EQ(json_body.status, 400);
  EXPECT_EQ(json_body.Json()["error"]["param"], "image");
}

TEST_F(ServerImg2ImgE2eTest, TaesdPreviewsArriveOverTheJobStream) {
  const HttpReply created =
      HttpCall("POST", Url("/v1/jobs"), R"({"prompt": "a preview cube", "width": 64, "height": 64, "steps": 6})");
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = created.Json()["id"];
  const testing::SseReply s = testing::ReadSse(Url("/v1/jobs/" + id + "/events"));
  ASSERT_EQ(s.status, 200) << s.error;
  int taesd = 0, latent = 0;
  for (const testing::SseEvent& e : s.events) {
    if (e.event != "step") continue;
    const json j = json::parse(e.data);
    if (!j.contains("preview")) continue;
    const std::string kind = j.value("preview_kind", "");
    taesd += kind == "taesd";
    latent += kind == "latent";
    if (kind == "taesd" && taesd == 1) {
      const std::string uri = j["preview"];
      ASSERT_EQ(uri.rfind("data:image/png;base64,", 0), 0u);
      const RgbImage preview = DecodeB64(uri.substr(22));
      EXPECT_EQ(preview.width, 64);  // image-sized, not latent-sized (8x8)
      EXPECT_EQ(preview.height, 64);
      EXPECT_GT(j["preview_ms"].get<double>(), 0.0);
    }
  }
  EXPECT_GE(taesd, 1) << s.body.substr(0, 1000);
  EXPECT_EQ(latent, 0);  // TAESD previews replace the latent projection
  EXPECT_EQ(s.events.back().event, "completed");
  const json caps = HttpCall("GET", Url("/v1/capabilities")).Json();
  EXPECT_EQ(caps["previews"]["kind"], "taesd");
  EXPECT_EQ(caps["image_input"], true);
}

}  // namespace
}  // namespace sdr
