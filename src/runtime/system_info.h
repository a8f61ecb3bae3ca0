// What the machine and this build offer: CPU model and features, math library, threads, and
// whether CUDA is available: its GPUs (name, compute capability, VRAM total and free), driver
// and runtime versions, the libraries in use, or the exact reason it is not; plus SD_MAX_CONCURRENT
// guidance from the first GPU's free VRAM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sdr {

struct GpuInfo {
  int index = 0;                  // cuda:N
  std::string name;               // "NVIDIA H200"
  int cc_major = 0, cc_minor = 0; // compute capability
  uint64_t total_bytes = 0;       // VRAM
  uint64_t free_bytes = 0;        // VRAM free now
  int multiprocessors = 0;
};

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
  int cuda_driver_version = 0;         // CUDA version the driver supports (13000 = 13.0); 0 = no driver
  int cuda_runtime_version = 0;        // the CUDA runtime of the module; 0 = no module
  std::string cuda_architectures;      // GPU code in the module: "sm_80 sm_86 sm_89 sm_90 compute_90"
  std::vector<std::string> cuda_libraries;  // the module and the CUDA libraries it runs on
  std::vector<GpuInfo> gpus;
  int suggested_max_concurrent = 0;    // SD_MAX_CONCURRENT for cuda:0 (0 = no GPU; see SuggestMaxConcurrent)
  std::string version;                 // sdruntime version
};

SystemInfo GetSystemInfo();

// Whether the CUDA backend can run here (probed once per process); `reason` (may be null) gets
// why not.
bool IsCudaAvailable(std::string* reason = nullptr);

// Worker threads of the compute kernels (SD_THREADS), for programs above the runtime.
void SetComputeThreads(int threads);
std::string FormatSystemInfo(const SystemInfo& info);  // one "key: value" line each
// The CUDA part alone (the `cuda:` line, one line per GPU, libraries, SD_MAX_CONCURRENT guidance).
std::string FormatCudaInfo(const SystemInfo& info);

// Per-context VRAM of a 512x512 generation with CFG (one batch-2 UNet evaluation) in f16 on the
// cuda backend: the activation plan, whose peak is the VAE decode (`sdr generate --dry-run` on the
// CPU plans 704.5 MB in f32 for SD 1.5, so 352 MB in f16), plus the im2col chunk (64 MB) and the
// context's cuBLASLt workspace (32 MB), rounded up.
inline constexpr uint64_t kGpuContextBytes512 = 512ull << 20;
// SD 1.5's weights in f16 (UNet 859.5 M, text encoder 123.1 M and VAE decoder 49.5 M parameters),
// held once per device.
inline constexpr uint64_t kGpuWeightBytesSd15 = 2070ull << 20;
// VRAM the CUDA context and libraries take besides our allocations (cuBLASLt kernels, module code).
inline constexpr uint64_t kGpuRuntimeBytes = 600ull << 20;

// How many contexts (SD_MAX_CONCURRENT) fit `free_bytes` of VRAM: the weights and the runtime
// once, then `per_context_bytes` each; between 1 and 64 (1 also when even one barely fits: the
// generation itself then reports out_of_vram with the numbers). Memory only: contexts on one GPU
// share its compute, so more of them add throughput only while one leaves the GPU idle.
int SuggestMaxConcurrent(uint64_t free_bytes, uint64_t weight_bytes = kGpuWeightBytesSd15,
                         uint64_t per_context_bytes = kGpuContextBytes512);

}  // namespace sdr
