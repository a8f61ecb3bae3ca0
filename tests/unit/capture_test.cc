// Executor::Captured, the logic behind CUDA graph replay, on the CPU: a stream that records ops
// instead of running them (as stream capture does, pointers taken by value) and replays the
// recording, under a tiny UNet whose evaluation runs as one recorded region per step. A replay
// must give exactly what running live gives, whatever changed between steps (the input, the
// timesteps on the device, the arena's layout), and regions that read the host must run live.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>

#include "backends/executor.h"
#include "testing/arena_executor.h"
#include "testing/reference_ops.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

class RecordingStream final : public Stream {
 public:
  explicit RecordingStream(std::unique_ptr<Stream> inner) : inner_(std::move(inner)) {}
  int begins = 0, replays = 0, kept = 0;

  Status Upload(const Tensor& host, const DeviceTensor& dst) override {
    if (recording_) return Unsupported("upload while recording");
    return inner_->Upload(host, dst);
  }
  Result<Tensor> Download(const DeviceTensor& src) override {
    if (recording_) return Unsupported("download while recording");
    return inner_->Download(src);
  }
  Status Synchronize() override { return recording_ ? Unsupported("sync while recording") : Status::Ok(); }

  Status Linear(const LinearArgs& a) override {
    const auto res = Copy(a.residual);
    return Do([a, res](Stream& s) mutable {
      LinearArgs b = a;
      b.residual = res ? &*res : nullptr;
      return s.Linear(b);
    });
  }
  Status Conv2d(const Conv2dArgs& a) override {
    const auto res = Copy(a.residual), cb = Copy(a.channel_bias);
    return Do([a, res, cb](Stream& s) mutable {
      Conv2dArgs b = a;
      b.residual = res ? &*res : nullptr;
      b.channel_bias = cb ? &*cb : nullptr;
      return s.Conv2d(b);
    });
  }
  Status TimestepEmbedding(const TimestepEmbeddingArgs& a) override {
    const auto t = Copy(a.t_device);
    return Do([a, t](Stream& s) mutable {
      TimestepEmbeddingArgs b = a;
      b.t_device = t ? &*t : nullptr;
      return s.TimestepEmbedding(b);
    });
  }
  Status GroupNorm(const GroupNormArgs& a) override { return Do([a](Stream& s) { return s.GroupNorm(a); }); }
  Status LayerNorm(const LayerNormArgs& a) override { return Do([a](Stream& s) { return s.LayerNorm(a); }); }
  Status Attention(const AttentionArgs& a) override { return Do([a](Stream& s) { return s.Attention(a); }); }
  Status Geglu(const GegluArgs& a) override { return Do([a](Stream& s) { return s.Geglu(a); }); }
  Status Add(const AddArgs& a) override { return Do([a](Stream& s) { return s.Add(a); }); }
  Status Affine(const AffineArgs& a) override { return Do([a](Stream& s) { return s.Affine(a); }); }
  Status ResizeNearest(const ResizeNearestArgs& a) override {
    return Do([a](Stream& s) { return s.ResizeNearest(a); });
  }
  Status ConcatChannels(const ConcatChannelsArgs& a) override {
    return Do([a](Stream& s) { return s.ConcatChannels(a); });
  }
  Status ToTokens(const TokensArgs& a) override { return Do([a](Stream& s) { return s.ToTokens(a); }); }
  Status FromTokens(const TokensArgs& a) override { return Do([a](Stream& s) { return s.FromTokens(a); }); }
  Status Embed(const EmbedArgs& a) override { return Do([a](Stream& s) { return s.Embed(a); }); }
  Status Convert(const ConvertArgs& a) override { return Do([a](Stream& s) { return s.Convert(a); }); }

  bool CanCapture() const override { return true; }
  Status BeginCapture() override {
    ++begins;
    recording_ = true;
    tape_.clear();
    return Status::Ok();
  }
  Status EndCapture(const std::string& key, bool keep) override {
    recording_ = false;
    if (keep) {
      graphs_[key] = std::move(tape_);
      ++kept;
    }
    tape_.clear();
    return Status::Ok();
  }
  Status Replay(const std::string& key) override {
    ++replays;
    for (auto& op : graphs_.at(key)) SDR_RETURN_IF_ERROR(op(*inner_));
    return Status::Ok();
  }

 private:
  static std::optional<DeviceTensor> Copy(const DeviceTensor* t) {
    return t != nullptr ? std::optional<DeviceTensor>(*t) : std::nullopt;
  }
  Status Do(std::function<Status(Stream&)> op) {
    if (!recording_) return op(*inner_);
    tape_.push_back(std::move(op));
    return Status::Ok();
  }

  std::unique_ptr<Stream> inner_;
  bool recording_ = false;
  std::vector<std::function<Status(Stream&)>> tape_;
  std::map<std::string, std::vector<std::function<Status(Stream&)>>> graphs_;
};

using testing::RandomTensor;

Tensor Timesteps(float t) {
  auto v = Tensor::Allocate(DType::kF32, {1});
  SDR_CHECK(v.ok());
  v->mutable_data<float>()[0] = t;
  return *v;
}

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::TinySdModel();
    ASSERT_NE(model_, nullptr);
    backend_ = &model_->backend();
    auto inner = backend_->CreateStream();
    ASSERT_TRUE(inner.ok());
    stream_ = std::make_unique<RecordingStream>(std::move(inner).value());
    exec_ = testing::MakeArenaExecutor(*backend_, stream_.get(), kArena);
    ex_ = exec_.ex.get();
    ex_->EnableCapture(&cache_);
    const UnetModel& u = model_->unet();
    auto ctx = ex_->Upload(RandomTensor({1, 77, u.context_dim()}, 99));
    ASSERT_TRUE(ctx.ok());
    ctx_ = *ctx;
  }

  // One step: eps for (x, t) through Captured with device timesteps, and the same evaluation run
  // live with host timesteps; returns the relative L2 between them.
  double Step(uint32_t seed, float t, std::string key = "unet") {
    const UnetModel& u = model_->unet();
    auto xa = ex_->Upload(RandomTensor({1, u.in_channels(), 8, 8}, seed));
    auto ta = ex_->Upload(Timesteps(t), DType::kF32);
    EXPECT_TRUE(xa.ok() && ta.ok());
    auto captured = ex_->Captured(key, [&] { return u.Forward(*ex_, *xa, *ta, ctx_); });
    EXPECT_TRUE(captured.ok()) << captured.status().ToString();
    auto got = ex_->Download(*captured);
    auto live = u.Forward(*ex_, *xa, std::vector<float>{t}, ctx_);
    EXPECT_TRUE(live.ok()) << live.status().ToString();
    auto want = ex_->Download(*live);
    EXPECT_TRUE(got.ok() && want.ok());
    return ref::RelL2(want->data<float>(), got->data<float>(), want->numel());
  }

  static constexpr uint64_t kArena = 64ull << 20;
  std::shared_ptr<const SdModel> model_;
  Backend* backend_ = nullptr;
  std::unique_ptr<RecordingStream> stream_;
  testing::ArenaExecutor exec_;
  Executor* ex_ = nullptr;
  CaptureCache cache_;
  Act ctx_;
};

TEST_F(CaptureTest, RecordsOnceThenReplaysWithNewInputsAndTimesteps) {
  EXPECT_LT(Step(1, 981.5f), 1e-6);
  EXPECT_EQ(stream_->begins, 1);
  EXPECT_EQ(stream_->replays, 1);  // the recording's own first run
  EXPECT_LT(Step(2, 500.25f), 1e-6);
  EXPECT_LT(Step(3, 3.0f), 1e-6);
  EXPECT_EQ(stream_->begins, 1);
  EXPECT_EQ(stream_->replays, 3);
}

TEST_F(CaptureTest, ADifferentArenaLayoutRecordsAgain) {
  EXPECT_LT(Step(1, 700.0f), 1e-6);
  auto extra = ex_->Alloc({1000});  // everything after it moves
  ASSERT_TRUE(extra.ok());
  EXPECT_LT(Step(2, 600.0f), 1e-6);
  EXPECT_EQ(stream_->begins, 2);
  EXPECT_EQ(stream_->kept, 2);
  extra = Act();
  EXPECT_LT(Step(3, 500.0f), 1e-6);  // back to the first layout: the second recording no longer fits
  EXPECT_EQ(stream_->begins, 3);
}

TEST_F(CaptureTest, HostTimestepsAreSignedSoEveryNewValueRecordsAgain) {
  const UnetModel& u = model_->unet();
  for (float t : {900.0f, 900.0f, 100.0f}) {
    auto xa = ex_->Upload(RandomTensor({1, u.in_channels(), 8, 8}, 5));
    ASSERT_TRUE(xa.ok());
    auto got = ex_->Captured("host-t", [&] { return u.Forward(*ex_, *xa, std::vector<float>{t}, ctx_); });
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want = u.Forward(*ex_, *xa, std::vector<float>{t}, ctx_);
    ASSERT_TRUE(want.ok());
    auto g = ex_->Download(*got);
    auto w = ex_->Download(*want);
    EXPECT_LT(ref::RelL2(w->data<float>(), g->data<float>(), w->numel()), 1e-6);
  }
  EXPECT_EQ(stream_->begins, 2);  // 900 recorded, 900 replayed, 100 recorded
  EXPECT_EQ(stream_->replays, 3);
}

TEST_F(CaptureTest, ARegionThatUploadsRunsLiveAndIsNotRecordedAgain) {
  const UnetModel& u = model_->unet();
  const Tensor x = RandomTensor({1, u.in_channels(), 8, 8}, 8);
  for (int i = 0; i < 2; ++i) {
    auto got = ex_->Captured("uploads", [&]() -> Result<Act> {
      SDR_ASSIGN_OR_RETURN(Act xa, ex_->Upload(x));
      return u.Forward(*ex_, xa, std::vector<float>{250.0f}, ctx_);
    });
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto xa = ex_->Upload(x);
    auto want = u.Forward(*ex_, *xa, std::vector<float>{250.0f}, ctx_);
    ASSERT_TRUE(want.ok());
    auto g = ex_->Download(*got);
    auto w = ex_->Download(*want);
    EXPECT_LT(ref::RelL2(w->data<float>(), g->data<float>(), w->numel()), 1e-6);
  }
  EXPECT_EQ(stream_->begins, 1);
  EXPECT_EQ(stream_->kept, 0);
  EXPECT_EQ(stream_->replays, 0);
}

TEST_F(CaptureTest, PlanningAndStreamsWithoutGraphsRunTheBody) {
  Arena plan;
  Executor dry(*backend_, nullptr, &plan);
  CaptureCache cache;
  dry.EnableCapture(&cache);
  int runs = 0;
  auto out = dry.Captured("x", [&] {
    ++runs;
    return dry.Alloc({4});
  });
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace sdr
