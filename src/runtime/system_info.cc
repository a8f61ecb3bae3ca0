#include "runtime/system_info.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backends/cpu/ops.h"
#include "backends/registry.h"
#include "core/thread_pool.h"

namespace sdr {
namespace {

std::string Gb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

std::string CudaVersion(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

void SetComputeThreads(int threads) { cpu::SetBlasThreads(threads); }

bool IsCudaAvailable(std::string* reason) {
  std::string why = CudaUnavailableReason();
  if (reason != nullptr) *reason = why;
  return why.empty();
}

int SuggestMaxConcurrent(uint64_t free_bytes, uint64_t weight_bytes, uint64_t per_context_bytes) {
  const uint64_t fixed = weight_bytes + kGpuRuntimeBytes;
  if (per_context_bytes == 0 || free_bytes <= fixed) return 1;
  const uint64_t n = (free_bytes - fixed) / per_context_bytes;
  return static_cast<int>(std::clamp<uint64_t>(n, 1, 64));
}

SystemInfo GetSystemInfo() {
  SystemInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && info.cpu_model.empty()) info.cpu_model = value;
    if (key == "flags" && flags.empty()) flags = value;
  }
  const char* interesting[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_bf16",
                               "avx512_vnni", "amx_tile", "asimd", "sve"};
  for (const char* f : interesting) {
    if ((" " + flags + " ").find(std::string(" ") + f + " ") != std::string::npos) info.cpu_features.push_back(f);
  }
  info.physical_cores = ThreadPool::DefaultThreadCount();
  info.default_threads = info.physical_cores;
  info.math_library = cpu::BlasDescription();
  info.blas_threads = cpu::BlasThreads();

  const CudaProbe probe = ProbeCuda();
  info.cuda_available = probe.available;
  info.cuda_reason = probe.available ? "" : probe.reason;
  info.cuda_driver_version = probe.driver_version;
  info.cuda_runtime_version = probe.runtime_version;
  info.cuda_architectures = probe.architectures;
  info.cuda_libraries = probe.libraries;
  for (const CudaDeviceInfo& d : probe.devices) {
    info.gpus.push_back({d.index, d.name, d.cc_major, d.cc_minor, d.total_bytes, d.free_bytes, d.multiprocessors});
  }
  info.backends = {"cpu", "cpu-blas", "reference"};
  if (info.cuda_available) {
    for (const GpuInfo& g : info.gpus) info.backends.push_back("cuda:" + std::to_string(g.index));
    if (!info.gpus.empty()) info.suggested_max_concurrent = SuggestMaxConcurrent(info.gpus[0].free_bytes);
  }
  auto best = OpenBackend("auto");
  info.auto_device = best.ok() ? (*best)->info().name : "none";
  info.version = "0.1.0";
  return info;
}

std::string FormatCudaInfo(const SystemInfo& info) {
  std::ostringstream o;
  if (!info.cuda_available) {
    o << "cuda: not available: " << info.cuda_reason << "\n";
    if (info.cuda_driver_version > 0) o << "cuda driver: CUDA " << CudaVersion(info.cuda_driver_version) << "\n";
    for (const std::string& l : info.cuda_libraries) o << "cuda library: " << l << "\n";
    o << "SD_MAX_CONCURRENT: no usable GPU; on the CPU contexts share the cores (default 2)\n";
    return o.str();
  }
  o << "cuda: available (driver CUDA " << CudaVersion(info.cuda_driver_version) << ", runtime CUDA "
    << CudaVersion(info.cuda_runtime_version) << ", GPU code for " << info.cuda_architectures << ")\n";
  for (const GpuInfo& g : info.gpus) {
    o << "gpu " << g.index << ": " << g.name << ", compute capability " << g.cc_major << "." << g.cc_minor << ", "
      << g.multiprocessors << " SMs, VRAM " << Gb(g.total_bytes) << " total, " << Gb(g.free_bytes) << " free\n";
  }
  for (const std::string& l : info.cuda_libraries) o << "cuda library: " << l << "\n";
  if (!info.gpus.empty()) {
    o << "SD_MAX_CONCURRENT: up to " << info.suggested_max_concurrent << " fit cuda:0's VRAM ("
      << Gb(info.gpus[0].free_bytes) << " free: SD 1.5 f16 weights ~" << Gb(kGpuWeightBytesSd15)
      << " once, then ~" << Gb(kGpuContextBytes512)
      << " per context at 512x512 with CFG; larger images need more; contexts share the GPU's compute)\n";
  }
  return o.str();
}

std::string FormatSystemInfo(const SystemInfo& info) {
  std::ostringstream o;
  o << "sdruntime: " << info.version << "\n";
  o << "cpu: " << (info.cpu_model.empty() ? "unknown" : info.cpu_model) << "\n";
  o << "cpu features:";
  for (const auto& f : info.cpu_features) o << ' ' << f;
  o << "\nphysical cores: " << info.physical_cores << "\n";
  o << "threads (default): " << info.default_threads << "\n";
  o << "math library: " << info.math_library << " (threads " << info.blas_threads << ")\n";
  o << "backends: ";
  for (size_t i = 0; i < info.backends.size(); ++i) o << (i ? ", " : "") << info.backends[i];
  o << " (auto = " << info.auto_device << ")\n";
  o << FormatCudaInfo(info);
  return o.str();
}

}  // namespace sdr
