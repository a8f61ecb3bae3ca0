#include "runtime/system_info.h"

#include <fstream>
#include <sstream>

#include "backends/cpu/ops.h"
#include "backends/registry.h"
#include "core/thread_pool.h"

namespace sdr {

void SetComputeThreads(int threads) { cpu::SetBlasThreads(threads); }

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
  info.cuda_reason = CudaUnavailableReason();
  info.cuda_available = info.cuda_reason.empty();
  info.backends = {"cpu", "cpu-blas", "reference"};
  if (info.cuda_available) info.backends.push_back("cuda:0");
  auto best = OpenBackend("auto");
  info.auto_device = best.ok() ? (*best)->info().name : "none";
  info.version = "0.1.0";
  return info;
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
  o << "cuda: " << (info.cuda_available ? "available" : "not available: " + info.cuda_reason) << "\n";
  return o.str();
}

}  // namespace sdr
