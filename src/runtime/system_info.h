// What the machine and this build offer: CPU model and features, math library, threads, and
// whether CUDA is available (with the reason when it is not).
#pragma once

#include <string>
#include <vector>

namespace sdr {

struct SystemInfo {
  std::string cpu_model;               // "AMD EPYC ..."
  std::vector<std::string> cpu_features;  // of interest: sse4_2 avx avx2 fma f16c avx512f ...
  int physical_cores = 0;
  int default_threads = 0;             // SD_THREADS default
  std::string math_library;            // BLAS provider and build
  int blas_threads = 0;
  std::vector<std::string> backends;   // usable device names: "cpu", "reference", "cuda:0", ...
  std::string auto_device;             // what SD_DEVICE=auto picks
  bool cuda_available = false;
  std::string cuda_reason;             // why not, when not
  std::string version;                 // sdruntime version
};

SystemInfo GetSystemInfo();

// Worker threads of the compute kernels (SD_THREADS), for programs above the runtime.
void SetComputeThreads(int threads);
std::string FormatSystemInfo(const SystemInfo& info);  // one "key: value" line each

}  // namespace sdr
