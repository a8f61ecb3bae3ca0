#include "backends/cuda/library_paths.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdlib>

namespace sdr::cuda {
namespace {

std::string Version3(size_t v, size_t major_div) {
  // cuBLASLt: 130002 -> 13.0.2 (major * 10000 + minor * 100 + patch); cuDNN 9: 90100 -> 9.1.0.
  return std::to_string(v / major_div) + "." + std::to_string(v / 100 % (major_div / 100)) + "." +
         std::to_string(v % 100);
}

std::vector<std::string> SplitPath(const char* list) {
  std::vector<std::string> parts;
  if (list == nullptr) return parts;
  std::string s(list), cur;
  for (char c : s) {
    if (c == ':') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// cuDNN 9, if it can be found: "libcudnn.so.9 9.x.y PATH (optional, unused)" or "".
std::string FindCudnn() {
  std::vector<std::string> candidates = {"libcudnn.so.9"};
  for (const std::string& dir : SplitPath(std::getenv("SDR_CUDA_LIB_PATH"))) candidates.push_back(dir + "/libcudnn.so.9");
  for (const std::string& c : candidates) {
    void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) continue;
    using VersionFn = size_t (*)();
    auto version = reinterpret_cast<VersionFn>(dlsym(h, "cudnnGetVersion"));
    const std::string v = version != nullptr ? Version3(version(), 10000) : "?";
    const std::string path = version != nullptr ? PathOfSymbol(reinterpret_cast<const void*>(version)) : c;
    return "libcudnn.so.9 " + v + " " + path + " (found; optional, not used by this version)";
  }
  return "";
}

}  // namespace

std::string PathOfSymbol(const void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

std::vector<std::string> DescribeLibraries() {
  std::vector<std::string> libs;
  libs.push_back("libcublasLt " + Version3(cublasLtGetVersion(), 10000) + " " +
                 PathOfSymbol(reinterpret_cast<const void*>(&cublasLtGetVersion)));
  libs.push_back("cudart " + std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10) +
                 " (linked statically)");
  void* cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (cuda != nullptr) {
    void* sym = dlsym(cuda, "cuDriverGetVersion");
    libs.push_back("libcuda.so.1 (driver) " + (sym != nullptr ? PathOfSymbol(sym) : std::string("")));
  }
  const std::string cudnn = FindCudnn();
  if (!cudnn.empty()) libs.push_back(cudnn);
  return libs;
}

}  // namespace sdr::cuda
