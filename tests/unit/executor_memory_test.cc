// The executor's memory-saving forms, planned and run on the cpu backend: a convolution over a 2x
// upsampled map that never stores the upsampled map (Executor::UpsampleConv2d), and GroupNorm
// written over its input (Executor::GroupNormInPlace). Each plans at least one feature map less
// than the plain form and computes the same values bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "backends/arena.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/executor.h"
#include "backends/registry.h"
#include "testing/arena_executor.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

using testing::RandomTensor;

template <typename Body>
uint64_t PlannedBytes(Backend& backend, Body&& body) {
  Arena plan;
  Executor dry(backend, nullptr, &plan);
  auto out = body(dry);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return plan.high_water();
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.numel() * sizeof(float)) == 0;
}

TEST(ExecutorMemoryTest, UpsampledConvolutionNeverStoresTheUpsampledMap) {
  if (!cpu::TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C: the cpu backend does not fuse";
  auto backend = OpenBackend("cpu");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  const Tensor x = RandomTensor({1, 64, 48, 40}, 1);
  auto wt = Tensor::Allocate(DType::kF32, {32, 64, 3, 3});
  auto bt = Tensor::Allocate(DType::kF32, {32});
  ASSERT_TRUE(wt.ok() && bt.ok());
  const auto wv = ref::RandomVector(wt->numel(), 2, 0.05f), bv = ref::RandomVector(32, 3, 0.1f);
  std::memcpy(wt->mutable_data<float>(), wv.data(), wv.size() * sizeof(float));
  std::memcpy(bt->mutable_data<float>(), bv.data(), bv.size() * sizeof(float));
  auto w = (*backend)->PrepareWeight(*wt, WeightRole::kConvKernel);
  auto b = (*backend)->PrepareWeight(*bt, WeightRole::kVector);
  ASSERT_TRUE(w.ok() && b.ok());
  auto fused = [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act a, ex.Upload(x));
    return ex.UpsampleConv2d(a, *w, &*b, 1);
  };
  auto plain = [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act a, ex.Upload(x));
    SDR_ASSIGN_OR_RETURN(Act up, ex.ResizeNearest(a, 96, 80));
    return ex.Conv2d(up, *w, &*b, 1, 1);
  };
  const uint64_t upsampled_bytes = 64ull * 96 * 80 * sizeof(float);
  const uint64_t fused_bytes = PlannedBytes(**backend, fused), plain_bytes = PlannedBytes(**backend, plain);
  std::printf("planned: fused %llu bytes, resize + conv %llu bytes\n", static_cast<unsigned long long>(fused_bytes),
              static_cast<unsigned long long>(plain_bytes));
  EXPECT_GE(plain_bytes, fused_bytes + upsampled_bytes);
  auto got = RunPlanned(**backend, nullptr, fused);
  auto want = RunPlanned(**backend, nullptr, plain);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(got->shape(), (Shape{1, 32, 96, 80}));
  EXPECT_TRUE(SameBits(*got, *want));
}

TEST(ExecutorMemoryTest, GroupNormInPlaceReusesTheLastReferenceOnly) {
  for (const char* device : {"cpu", "cpu-blas", "reference"}) {
    auto backend = OpenBackend(device);
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    ASSERT_TRUE((*backend)->info().in_place_norm) << device;
    const Tensor x = RandomTensor({2, 64, 24, 20}, 4, 3.0f);
    auto gt = Tensor::Allocate(DType::kF32, {64});
    ASSERT_TRUE(gt.ok());
    const auto gv = ref::RandomVector(64, 5);
    std::memcpy(gt->mutable_data<float>(), gv.data(), gv.size() * sizeof(float));
    auto g = (*backend)->PrepareWeight(*gt, WeightRole::kVector);
    ASSERT_TRUE(g.ok());
    auto in_place = [&](Executor& ex) -> Result<Act> {
      SDR_ASSIGN_OR_RETURN(Act a, ex.Upload(x));
      return ex.GroupNormInPlace(std::move(a), *g, *g, 32, 1e-5f, true);
    };
    auto kept = [&](Executor& ex) -> Result<Act> {  // x still referenced: a new map
      SDR_ASSIGN_OR_RETURN(Act a, ex.Upload(x));
      SDR_ASSIGN_OR_RETURN(Act y, ex.GroupNormInPlace(a, *g, *g, 32, 1e-5f, true));
      SDR_ASSIGN_OR_RETURN(Tensor before, ex.Download(a));
      if (!ex.planning() && std::memcmp(before.raw(), x.raw(), x.numel() * sizeof(float)) != 0) {
        return InternalError("the input was overwritten while still referenced");
      }
      return y;
    };
    const uint64_t map = x.numel() * sizeof(float);
    const uint64_t in_place_bytes = PlannedBytes(**backend, in_place), kept_bytes = PlannedBytes(**backend, kept);
    EXPECT_LT(in_place_bytes, 2 * map) << device;
    EXPECT_GE(kept_bytes, 2 * map) << device;
    auto a = RunPlanned(**backend, nullptr, in_place);
    auto b = RunPlanned(**backend, nullptr, kept);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(SameBits(*a, *b)) << device;
  }
}

}  // namespace
}  // namespace sdr
