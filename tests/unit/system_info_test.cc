// `sdr info --system`'s CUDA part and SD_MAX_CONCURRENT guidance (runtime/system_info.h), the GPU
// decode-tiling rule (runtime/txt2img.h), and the program's output on this machine.
#include <gtest/gtest.h>

#include <string>

#include "runtime/system_info.h"
#include "runtime/txt2img.h"
#include "testing/model_cache.h"

namespace sdr {
namespace {

constexpr uint64_t kGb = 1ull << 30;

TEST(SystemInfoTest, MaxConcurrentGuidanceFollowsFreeVram) {
  // 12 GB card (RTX 3060), mostly free: the weights and the runtime once, then ~0.5 GB each.
  EXPECT_EQ(SuggestMaxConcurrent(11 * kGb), static_cast<int>((11 * kGb - kGpuWeightBytesSd15 - kGpuRuntimeBytes) /
                                                             kGpuContextBytes512));
  EXPECT_EQ(SuggestMaxConcurrent(139 * kGb), 64);  // an H200: the configuration's ceiling
  EXPECT_EQ(SuggestMaxConcurrent(1 * kGb), 1);     // not even one fits: 1, and the generation says why
  EXPECT_EQ(SuggestMaxConcurrent(10 * kGb, 2 * kGb, 2 * kGb), 3);
}

TEST(SystemInfoTest, CudaLinesNameTheGpusOrTheReason) {
  SystemInfo none;
  none.cuda_reason = "no NVIDIA driver: libcuda.so.1 cannot be loaded";
  const std::string a = FormatCudaInfo(none);
  EXPECT_NE(a.find("cuda: not available: no NVIDIA driver: libcuda.so.1 cannot be loaded\n"), std::string::npos) << a;
  EXPECT_NE(a.find("SD_MAX_CONCURRENT: no usable GPU"), std::string::npos) << a;

  SystemInfo one;
  one.cuda_available = true;
  one.cuda_driver_version = 13000;
  one.cuda_runtime_version = 13000;
  one.cuda_architectures = "sm_80 sm_86 sm_89 sm_90 compute_90";
  one.cuda_libraries = {"libcublasLt 13.0.2 /usr/local/cuda/lib64/libcublasLt.so.13"};
  one.gpus = {{0, "NVIDIA GeForce RTX 3060", 8, 6, 12 * kGb, 11 * kGb, 28}};
  one.suggested_max_concurrent = SuggestMaxConcurrent(11 * kGb);
  const std::string b = FormatCudaInfo(one);
  EXPECT_NE(b.find("cuda: available (driver CUDA 13.0, runtime CUDA 13.0, GPU code for sm_80 sm_86 sm_89 sm_90 "
                   "compute_90)"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("gpu 0: NVIDIA GeForce RTX 3060, compute capability 8.6, 28 SMs, VRAM 12.0 GB total, 11.0 GB free"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("cuda library: libcublasLt 13.0.2"), std::string::npos) << b;
  EXPECT_NE(b.find("SD_MAX_CONCURRENT: up to " + std::to_string(one.suggested_max_concurrent) + " fit cuda:0's VRAM"),
            std::string::npos)
      << b;
}

TEST(SystemInfoTest, GpuDecodesInTilesOnlyWhenTheWholeImageDoesNotFitAndTilingHelps) {
  MemoryPlan whole, tiled;
  whole.total = 3 * kGb;
  tiled.total = 1 * kGb;
  EXPECT_TRUE(UseVaeTiling(whole, tiled, 2 * kGb));
  EXPECT_FALSE(UseVaeTiling(whole, tiled, 4 * kGb));  // fits: whole
  tiled.total = 3 * kGb;
  EXPECT_FALSE(UseVaeTiling(whole, tiled, 2 * kGb));  // the UNet is the peak: tiling would not help
}

TEST(SystemInfoTest, TheProgramExplainsCudaOnThisMachine) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(std::string(SDR_BIN_DIR) + "/sdr info --system", &out), 0) << out;
  std::string reason;
  if (IsCudaAvailable(&reason)) {
    EXPECT_NE(out.find("gpu 0: "), std::string::npos) << out;
  } else {
    EXPECT_NE(out.find("cuda: not available: " + reason), std::string::npos) << out;
  }
  EXPECT_NE(out.find("SD_MAX_CONCURRENT"), std::string::npos) << out;
  ASSERT_EQ(testing::RunCommand(std::string(SDR_BIN_DIR) + "/sdr info --system --json", &out), 0) << out;
  EXPECT_NE(out.find("\"suggested_max_concurrent\""), std::string::npos) << out;
}

}  // namespace
}  // namespace sdr
