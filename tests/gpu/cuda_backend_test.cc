// The cuda backend end to end on a GPU (label `gpu`; skipped with one line elsewhere): device
// memory refusals are out_of_vram and leave the device usable, a small VRAM budget fails with
// out_of_vram and the same context then makes the right image, weights are held once for every
// context, graph replay gives what live launches give, and the tiny model's images match the CPU's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "backends/registry.h"
#include "gpu/gpu_testing.h"
#include "runtime/context.h"
#include "runtime/errors.h"

namespace sdr {
namespace {

GenerateParams Small(uint64_t seed = 42) {
  GenerateParams p;
  p.prompt = "a photograph of an astronaut riding a horse";
  p.width = 64;
  p.height = 64;
  p.steps = 4;
  p.seed = static_cast<int64_t>(seed);
  p.sampler = SamplerKind::kEuler;
  p.cfg_scale = 7.0f;
  return p;
}

Result<GeneratedImage> One(std::shared_ptr<const SdModel> model, const GenerateParams& p, ContextOptions o = {}) {
  Context ctx(std::move(model), o);
  SDR_ASSIGN_OR_RETURN(GenerateResult r, ctx.Generate(p));
  return std::move(r.images.at(0));
}

TEST(CudaBackendTest, ADeviceAllocationTooLargeIsOutOfVramAndTheDeviceStaysUsable) {
  SDR_REQUIRE_CUDA();
  auto backend = OpenBackend("cuda:0");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  const uint64_t huge = (*backend)->bytes_available() + (64ull << 30);
  auto refused = (*backend)->AllocateMemory(huge);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(ClassifyError(refused.status()), ErrorCode::kOutOfVram);
  const std::string m = refused.status().message();
  EXPECT_NE(m.find("out of VRAM"), std::string::npos) << m;
  EXPECT_NE(m.find("needs"), std::string::npos) << m;
  EXPECT_NE(m.find("free of"), std::string::npos) << m;
  std::printf("[ figures ] %s\n", m.c_str());
  auto ok = (*backend)->AllocateMemory(64ull << 20);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(CudaBackendTest, TinyModelImagesMatchTheCpu) {
  SDR_REQUIRE_CUDA();
  auto cpu = testing::TinyModelOn("cpu", "f32");
  ASSERT_NE(cpu, nullptr);
  auto want = One(cpu, Small());
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  for (const auto& [precision, min_psnr] : {std::pair<const char*, double>{"f32", 45.0}, {"f16", 30.0}, {"bf16", 20.0}}) {
    auto gpu = testing::TinyModelOn("cuda:0", precision);
    ASSERT_NE(gpu, nullptr);
    EXPECT_EQ(gpu->backend().info().name, "cuda:0");
    auto got = One(gpu, Small());
    ASSERT_TRUE(got.ok()) << precision << ": " << got.status().ToString();
    const double psnr = testing::RgbPsnr(want->rgb, got->rgb);
    std::printf("[ figures ] tiny model, cuda %s vs cpu: PSNR %.1f dB\n", precision, psnr);
    EXPECT_GE(psnr, min_psnr) << precision;
  }
}

TEST(CudaBackendTest, GraphReplayGivesWhatLiveLaunchesGive) {
  SDR_REQUIRE_CUDA();
  auto gpu = testing::TinyModelOn("cuda:0", "f16");
  ASSERT_NE(gpu, nullptr);
  ::setenv("SDR_CUDA_GRAPHS", "0", 1);  // read when a context's stream is created
  auto live = One(gpu, Small(7));
  ::unsetenv("SDR_CUDA_GRAPHS");
  auto replayed = One(gpu, Small(7));
  ASSERT_TRUE(live.ok() && replayed.ok());
  const double psnr = testing::RgbPsnr(live->rgb, replayed->rgb);
  std::printf("[ figures ] graphs vs live launches: PSNR %.1f dB (99 = identical)\n", psnr);
  EXPECT_GE(psnr, 60.0);
}

TEST(CudaBackendTest, SmallVramBudgetIsOutOfVramThenTheSameContextMakesTheImage) {
  SDR_REQUIRE_CUDA();
  auto gpu = testing::TinyModelOn("cuda:0", "f16");
  ASSERT_NE(gpu, nullptr);
  auto want = One(gpu, Small(3));
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  PoolOptions po;
  po.max_concurrent = 1;
  po.context.memory_budget_bytes = 1 << 20;  // 1 MB: nothing fits
  auto pool = ContextPool::Create(gpu, po);
  ASSERT_TRUE(pool.ok());
  auto lease = (*pool)->Acquire(std::chrono::seconds(5));
  ASSERT_TRUE(lease.ok());
  auto refused = (*lease)->Generate(Small(3));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ClassifyError(refused.status()), ErrorCode::kOutOfVram) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("VRAM"), std::string::npos) << refused.status().message();
  std::printf("[ figures ] %s\n", refused.status().message().c_str());
  (*lease)->options().memory_budget_bytes = 0;
  auto again = (*lease)->Generate(Small(3));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GE(testing::RgbPsnr(want->rgb, again->images[0].rgb), 60.0);
}

TEST(CudaBackendTest, WeightsAreHeldOnceForEveryContextAndContextsRunTogether) {
  SDR_REQUIRE_CUDA();
  auto gpu = testing::TinyModelOn("cuda:0", "bf16");
  ASSERT_NE(gpu, nullptr);
  const Backend& b = gpu->backend();
  const uint64_t before = b.bytes_in_use();  // the weights (and nothing else of this precision yet)
  Context a(gpu, {}), c(gpu, {});
  Result<GenerateResult> ra = InvalidArgument("not run"), rc = InvalidArgument("not run");
  std::thread ta([&] { ra = a.Generate(Small(11)); });
  std::thread tc([&] { rc = c.Generate(Small(11)); });
  ta.join();
  tc.join();
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_GE(testing::RgbPsnr(ra->images[0].rgb, rc->images[0].rgb), 60.0);
  const uint64_t workspaces = 2 * (32ull << 20);
  const uint64_t now = b.bytes_in_use();
  std::printf("[ figures ] weights %.1f MB, 2 contexts %.1f + %.1f MB, in use %.1f MB\n", before / 1048576.0,
              a.reserved_bytes() / 1048576.0, c.reserved_bytes() / 1048576.0, now / 1048576.0);
  EXPECT_LE(now, before + a.reserved_bytes() + c.reserved_bytes() + workspaces + (1 << 20));
}

}  // namespace
}  // namespace sdr
