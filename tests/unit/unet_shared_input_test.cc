// UnetBatch::kSharedInput (the CFG pair: one latent and timestep, two contexts): the layers before
// the first cross-attention run on one image and are repeated. It must give what the batch run
// as independent images gives, and must really run that prefix once: the stream below counts the
// images every convolution and attention call is given.
#include <gtest/gtest.h>

#include <cstring>

#include "backends/executor.h"
#include "testing/arena_executor.h"
#include "testing/reference_ops.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

// Forwards every op to the backend's stream, adding up the images (dim 0) of each convolution's
// input and each attention's queries.
class CountingStream final : public Stream {
 public:
  explicit CountingStream(std::unique_ptr<Stream> inner) : inner_(std::move(inner)) {}
  int64_t conv_images = 0, attention_images = 0;

  Status Upload(const Tensor& host, const DeviceTensor& dst) override { return inner_->Upload(host, dst); }
  Result<Tensor> Download(const DeviceTensor& src) override { return inner_->Download(src); }
  Status Synchronize() override { return inner_->Synchronize(); }
  Status Linear(const LinearArgs& a) override { return inner_->Linear(a); }
  Status Conv2d(const Conv2dArgs& a) override {
    conv_images += a.x.dim(0);
    return inner_->Conv2d(a);
  }
  Status GroupNorm(const GroupNormArgs& a) override { return inner_->GroupNorm(a); }
  Status LayerNorm(const LayerNormArgs& a) override { return inner_->LayerNorm(a); }
  Status Attention(const AttentionArgs& a) override {
    attention_images += a.q.dim(0);
    return inner_->Attention(a);
  }
  Status Geglu(const GegluArgs& a) override { return inner_->Geglu(a); }
  Status Add(const AddArgs& a) override { return inner_->Add(a); }
  Status Affine(const AffineArgs& a) override { return inner_->Affine(a); }
  Status ResizeNearest(const ResizeNearestArgs& a) override { return inner_->ResizeNearest(a); }
  Status ConcatChannels(const ConcatChannelsArgs& a) override { return inner_->ConcatChannels(a); }
  Status ToTokens(const TokensArgs& a) override { return inner_->ToTokens(a); }
  Status FromTokens(const TokensArgs& a) override { return inner_->FromTokens(a); }
  Status TimestepEmbedding(const TimestepEmbeddingArgs& a) override { return inner_->TimestepEmbedding(a); }
  Status Embed(const EmbedArgs& a) override { return inner_->Embed(a); }
  Status Convert(const ConvertArgs& a) override { return inner_->Convert(a); }

 private:
  std::unique_ptr<Stream> inner_;
};

// n images of one random image.
Tensor Repeated(const Shape& one, int64_t n, uint32_t seed) {
  const Tensor image = testing::RandomTensor(one, seed);
  Shape shape = one;
  shape[0] = n;
  auto t = Tensor::Allocate(DType::kF32, shape);
  SDR_CHECK(t.ok());
  for (int64_t i = 0; i < n; ++i) std::memcpy(t->mutable_data<float>() + i * image.numel(), image.raw(), image.nbytes());
  return *t;
}

class UnetSharedInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::TinySdModel();
    ASSERT_NE(model_, nullptr);
    auto inner = model_->backend().CreateStream();
    ASSERT_TRUE(inner.ok());
    stream_ = std::make_unique<CountingStream>(std::move(inner).value());
    exec_ = testing::MakeArenaExecutor(model_->backend(), stream_.get(), kArena);
    ex_ = exec_.ex.get();
  }

  // eps of `images` images of one latent (size x size) and timestep, each with its own context.
  Tensor Eval(int64_t images, int64_t size, UnetBatch batch) {
    const UnetModel& u = model_->unet();
    auto x = ex_->Upload(Repeated({1, u.in_channels(), size, size}, images, 7));
    auto ctx = ex_->Upload(testing::RandomTensor({images, 77, u.context_dim()}, 99));
    EXPECT_TRUE(x.ok() && ctx.ok());
    auto eps = u.Forward(*ex_, *x, std::vector<float>(static_cast<size_t>(images), 731.25f), *ctx, batch);
    EXPECT_TRUE(eps.ok()) << eps.status().ToString();
    auto host = ex_->Download(*eps);
    EXPECT_TRUE(host.ok());
    return *host;
  }

  static constexpr uint64_t kArena = 64ull << 20;
  std::shared_ptr<const SdModel> model_;
  std::unique_ptr<CountingStream> stream_;
  testing::ArenaExecutor exec_;
  Executor* ex_ = nullptr;
};

TEST_F(UnetSharedInputTest, GivesWhatIndependentImagesGiveWithThePrefixRunOnce) {
  for (int64_t images : {2, 3}) {
    SCOPED_TRACE(images);
    stream_->conv_images = stream_->attention_images = 0;
    const Tensor want = Eval(images, 16, UnetBatch::kIndependent);
    const int64_t conv_all = stream_->conv_images, attention_all = stream_->attention_images;
    stream_->conv_images = stream_->attention_images = 0;
    const Tensor got = Eval(images, 16, UnetBatch::kSharedInput);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_LT(ref::RelL2(want.data<float>(), got.data<float>(), want.numel()), 1e-6);
    // The images' results differ (their contexts do), so a repeated last image would show.
    const int64_t per = want.numel() / images;
    EXPECT_GT(ref::RelL2(want.data<float>(), want.data<float>() + per, per), 1e-3);
    // The input conv, the first ResBlock's two convs, the first transformer's proj_in (1x1) and its
    // self-attention ran on one image instead of `images`.
    EXPECT_EQ(stream_->conv_images, conv_all - 4 * (images - 1));
    EXPECT_EQ(stream_->attention_images, attention_all - (images - 1));
  }
}

TEST_F(UnetSharedInputTest, OneImageIsTheIndependentRun) {
  const Tensor want = Eval(1, 8, UnetBatch::kIndependent);
  const Tensor got = Eval(1, 8, UnetBatch::kSharedInput);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0);
}

TEST(RepeatImagesTest, CopiesTheOneImageOfAnyRank) {
  auto model = testing::TinySdModel();
  ASSERT_NE(model, nullptr);
  auto stream = model->backend().CreateStream();
  ASSERT_TRUE(stream.ok());
  testing::ArenaExecutor exec = testing::MakeArenaExecutor(model->backend(), stream->get(), 1 << 20);
  Executor& ex = *exec.ex;
  for (const Shape& shape : {Shape{1, 3, 4, 5}, Shape{1, 6, 7}, Shape{1, 9}}) {
    auto x = ex.Upload(Repeated(shape, 1, 5));
    ASSERT_TRUE(x.ok());
    auto y = ex.RepeatImages(*x, 3);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    Shape want_shape = shape;
    want_shape[0] = 3;
    EXPECT_EQ(y->shape(), want_shape);
    auto got = ex.Download(*y);
    ASSERT_TRUE(got.ok());
    const Tensor want = Repeated(shape, 3, 5);
    EXPECT_EQ(std::memcmp(got->raw(), want.raw(), want.nbytes()), 0);
    EXPECT_EQ(ex.Download(y->FirstImages(1))->shape(), shape);
  }
}

}  // namespace
}  // namespace sdr
