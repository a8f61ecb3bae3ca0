// Loading the CUDA backend module (backends/cuda_loader.h) and every reason it can fail, with
// fake modules (tests/fake_cuda) so that it runs on machines with and without a GPU; and what this
// build's own module says here.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda_loader.h"
#include "backends/registry.h"

namespace sdr {
namespace {

const std::string kFakes = SDR_FAKE_CUDA_DIR;

CudaModuleSearch FakeSearch(const std::string& kind) {
  CudaModuleSearch s;
  s.dirs = {kFakes + "/" + kind};
  s.system_search = false;
  return s;
}

TEST(CudaLoaderTest, SplitsSearchPaths) {
  EXPECT_EQ(SplitSearchPath(""), std::vector<std::string>{});
  EXPECT_EQ(SplitSearchPath("/a:/b::/c:"), (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(CudaLoaderTest, ABuildWithoutTheModuleSaysSo) {
  CudaModuleSearch s;
  s.system_search = false;
  s.built = false;
  s.build_status = "not built: SDR_CUDA=OFF";
  const CudaModuleLoad load = LoadCudaModule(s);
  EXPECT_EQ(load.api, nullptr);
  EXPECT_EQ(load.reason, "this build has no CUDA backend (not built: SDR_CUDA=OFF)");
}

TEST(CudaLoaderTest, AModuleNotFoundNamesWhereItLooked) {
  CudaModuleSearch s;
  s.dirs = {"/nonexistent/a", "/nonexistent/b"};
  s.system_search = false;
  const CudaModuleLoad load = LoadCudaModule(s);
  EXPECT_EQ(load.api, nullptr);
  EXPECT_NE(load.reason.find("libsdr-cuda.so was not found (looked in /nonexistent/a, /nonexistent/b)"),
            std::string::npos)
      << load.reason;
  EXPECT_NE(load.reason.find("SDR_CUDA_MODULE"), std::string::npos) << load.reason;

  s.module_file = "/nonexistent/libsdr-cuda.so";
  EXPECT_EQ(LoadCudaModule(s).reason, "SDR_CUDA_MODULE=/nonexistent/libsdr-cuda.so does not exist");
}

TEST(CudaLoaderTest, ALibraryThatIsNotAModuleIsRefused) {
  const CudaModuleLoad load = LoadCudaModule(FakeSearch("no_entry"));
  EXPECT_EQ(load.api, nullptr);
  EXPECT_NE(load.reason.find("is not an sdruntime CUDA module (it has no sdr_cuda_module)"), std::string::npos)
      << load.reason;
}

TEST(CudaLoaderTest, AModuleFromAnotherBuildIsAVersionMismatch) {
  const CudaModuleLoad abi = LoadCudaModule(FakeSearch("wrong_abi"));
  EXPECT_EQ(abi.api, nullptr);
  EXPECT_NE(abi.reason.find("version mismatch: "), std::string::npos) << abi.reason;
  EXPECT_NE(abi.reason.find("module ABI " + std::to_string(kCudaModuleAbi + 1000)), std::string::npos) << abi.reason;

  const CudaModuleLoad seam = LoadCudaModule(FakeSearch("other_seam"));
  EXPECT_EQ(seam.api, nullptr);
  EXPECT_NE(seam.reason.find("version mismatch: "), std::string::npos) << seam.reason;
  EXPECT_NE(seam.reason.find("built from another sdruntime (seam 0000000000000000, version 0.0.1"), std::string::npos)
      << seam.reason;
}

TEST(CudaLoaderTest, AMissingCudaLibraryIsNamedAndFoundThroughTheLibraryPath) {
  CudaModuleSearch s = FakeSearch("needs_lib");
  const CudaModuleLoad missing = LoadCudaModule(s);
  EXPECT_EQ(missing.api, nullptr);
  EXPECT_NE(missing.reason.find("the CUDA library libsdr_fake_dep.so is missing"), std::string::npos)
      << missing.reason;
  EXPECT_NE(missing.reason.find("SDR_CUDA_LIB_PATH"), std::string::npos) << missing.reason;

  s.lib_dirs = {"/nonexistent", kFakes + "/deps"};
  s.needed_libs = {"libsdr_fake_dep.so"};
  const CudaModuleLoad found = LoadCudaModule(s);
  ASSERT_NE(found.api, nullptr) << found.reason;
  EXPECT_EQ(found.preloaded, std::vector<std::string>{kFakes + "/deps/libsdr_fake_dep.so"});
  CudaProbe probe;
  found.api->probe(&probe, false);
  EXPECT_EQ(probe.driver_version, 13000);  // the preloaded library answered
}

TEST(CudaLoaderTest, AWellFormedModuleReportsItsProbe) {
  const CudaModuleLoad load = LoadCudaModule(FakeSearch("no_device"));
  ASSERT_NE(load.api, nullptr) << load.reason;
  EXPECT_EQ(load.path, kFakes + "/no_device/libsdr-cuda.so");
  CudaProbe probe;
  load.api->probe(&probe, true);
  EXPECT_FALSE(probe.available);
  EXPECT_EQ(probe.reason, "no CUDA device: fake module");
  auto backend = load.api->create({});
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), StatusCode::kUnavailable);

  CudaModuleSearch exact;
  exact.module_file = load.path;
  EXPECT_NE(LoadCudaModule(exact).api, nullptr);
}

// This build and machine: CUDA is either usable, or unusable for a stated reason, and then
// "cuda" is Unavailable with that reason while "auto" falls back to the CPU.
TEST(CudaLoaderTest, ThisMachineEitherHasCudaOrSaysWhyNot) {
  const std::string reason = CudaUnavailableReason();
  const CudaProbe probe = ProbeCuda();
  EXPECT_EQ(probe.available, reason.empty());
  if (reason.empty()) {
    EXPECT_FALSE(probe.devices.empty());
    std::printf("[ figures ] CUDA available: %s\n", probe.devices[0].name.c_str());
    return;
  }
  std::printf("[ figures ] CUDA not available here: %s\n", reason.c_str());
  auto cuda = OpenBackend("cuda:0");
  ASSERT_FALSE(cuda.ok());
  EXPECT_EQ(cuda.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(cuda.status().message().find(reason), std::string::npos) << cuda.status().message();
  auto best = OpenBackend("auto");
  ASSERT_TRUE(best.ok()) << best.status().ToString();
  EXPECT_EQ((*best)->info().name, "cpu");
}

}  // namespace
}  // namespace sdr
