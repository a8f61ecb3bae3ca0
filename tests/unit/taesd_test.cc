// TAESD previews: the tiny decoder against an independent PyTorch transcription of taesd.py, on
// the reference backend, and previews arriving through the progress callback of a generation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/registry.h"
#include "formats/npy.h"
#include "formats/safetensors.h"
#include "models/random_weights.h"
#include "models/vae/taesd_decoder.h"
#include "runtime/txt2img.h"
#include "testing/ckpt_fixtures.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

class TaesdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto w = MakeRandomTaesdDecoder(7, 64);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(WriteSafetensors(Path(), *w).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Path() { return dir_->File("taesd_decoder.safetensors"); }
  static Tensor Latent(int64_t h, int64_t w) {
    std::vector<float> v = ref::RandomVector(4 * h * w, 3, 2.0f);
    Tensor t = *Tensor::Allocate(DType::kF32, {1, 4, h, w});
    std::copy(v.begin(), v.end(), t.mutable_data<float>());
    return t;
  }
  static testing::TempDir* dir_;
};
testing::TempDir* TaesdTest::dir_ = nullptr;

TEST_F(TaesdTest, DecodesToAnImageAndMatchesTheReferenceBackend) {
  auto cpu = TaesdDecoder::Load(Path(), testing::CpuBackend());
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  EXPECT_EQ((*cpu)->latent_channels(), 4);
  const Tensor z = Latent(6, 5);
  auto a = (*cpu)->Decode(z);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->shape(), (Shape{1, 3, 48, 40}));
  for (int64_t i = 0; i < a->numel(); ++i) ASSERT_TRUE(a->data<float>()[i] >= 0 && a->data<float>()[i] <= 1);
  auto ref_backend = OpenBackend("reference");
  ASSERT_TRUE(ref_backend.ok());
  auto ref = TaesdDecoder::Load(Path(), **ref_backend);
  ASSERT_TRUE(ref.ok());
  auto b = (*ref)->Decode(z);
  ASSERT_TRUE(b.ok());
  EXPECT_LT(ref::RelL2(b->data<float>(), a->data<float>(), a->numel()), 1e-5);
  // Not a TAESD file: named.
  auto bad = TaesdDecoder::Load(testing::TinyModelPath(), testing::CpuBackend());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("1.weight"), std::string::npos) << bad.status().ToString();
}

TEST_F(TaesdTest, MatchesAnIndependentPyTorchTranscriptionOfTaesdPy) {
  if (!testing::HaveTorch()) GTEST_SKIP() << "python3-torch not installed";
  testing::TempDir dir;
  const Tensor z = Latent(4, 6);
  ASSERT_TRUE(WriteNpy(dir.File("z.npy"), z).ok());
  std::string out;
  ASSERT_EQ(testing::RunCommand("/usr/bin/python3 " + std::string(SDR_SOURCE_DIR) + "/tests/tools/torch_taesd.py " +
                                    Path() + " " + dir.File("z.npy") + " " + dir.File("img.npy"),
                                &out, true),
            0)
      << out;
  auto want = ReadNpy(dir.File("img.npy"));
  ASSERT_TRUE(want.ok());
  auto got = (*TaesdDecoder::Load(Path(), testing::CpuBackend()))->Decode(z);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->shape(), want->shape());
  EXPECT_LT(ref::RelL2(want->data<float>(), got->data<float>(), want->numel()), 1e-5);
}

TEST_F(TaesdTest, AMissingOrWrongTaesdFileIsAClearLoadError) {
  SdModelOptions o;
  o.model_path = testing::TinyModelPath();
  o.tokenizer_path = testing::ClipMergesPath();
  o.taesd_path = dir_->File("no_such_taesd.safetensors");
  auto missing = SdModel::Load(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no_such_taesd.safetensors"), std::string::npos)
      << missing.status().ToString();
  o.taesd_path = testing::TinyModelPath();  // a whole SD model, not a TAESD decoder
  auto wrong = SdModel::Load(o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_FALSE(wrong.status().message().empty());
}

TEST_F(TaesdTest, PreviewsArriveThroughTheProgressCallback) {
  SdModelOptions o;
  o.model_path = testing::TinyModelPath();
  o.tokenizer_path = testing::ClipMergesPath();
  o.taesd_path = Path();
  auto m = SdModel::Load(o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->has_taesd());
  GenerateParams p;
  p.prompt = "a cat";
  p.width = 72;
  p.height = 64;
  p.steps = 4;
  p.seed = 1;
  p.sampler = SamplerKind::kEuler;
  GenerateControl control;
  control.preview_every = 2;
  std::vector<int> preview_steps;
  control.progress = [&](const StepProgress& s) {
    if (s.preview != nullptr) {
      EXPECT_EQ(s.preview->shape(), (Shape{1, 3, 64, 72}));
      preview_steps.push_back(s.step);
    }
    return true;
  };
  auto r = Generate(**m, p, control);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(preview_steps, (std::vector<int>{2, 4}));
  EXPECT_EQ(r->timings.previews, 2);
  EXPECT_GT(r->timings.preview_s, 0.0);
  // Previews do not change the image.
  auto plain = Generate(**m, p);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->images[0].rgb, r->images[0].rgb);
}

// --taesd-decode: the final image is the TAESD's decode of the sampled latent.
TEST_F(TaesdTest, TaesdCanDecodeTheFinalImage) {
  SdModelOptions o;
  o.model_path = testing::TinyModelPath();
  o.tokenizer_path = testing::ClipMergesPath();
  o.taesd_path = Path();
  auto m = SdModel::Load(o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  testing::TempDir dump;
  GenerateParams p;
  p.prompt = "a cat";
  p.width = p.height = 64;
  p.steps = 2;
  p.seed = 4;
  p.taesd_decode = true;
  p.dump_dir = dump.path().string();
  auto r = Generate(**m, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto x0 = ReadNpy(dump.File("x0.npy"));
  ASSERT_TRUE(x0.ok());
  auto want = (*m)->taesd().Decode(*x0);
  ASSERT_TRUE(want.ok());
  EXPECT_LT(ref::RelL2(want->data<float>(), r->images[0].image.data<float>(), want->numel()), 1e-6);
  // Without a TAESD: refused by name.
  auto plain = Generate(*testing::TinySdModel(), p);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("taesd_decode"), std::string::npos);
}

}  // namespace
}  // namespace sdr
