// Finding and loading the CUDA backend module (backends/cuda_module.h) at run time, like ggml's
// dynamic backends: the same `sdr` and libsdr.so run on machines without a GPU, a driver or the
// CUDA libraries, and say exactly why CUDA is not available.
//
// Where the module is looked for, in order:
//   1. SDR_CUDA_MODULE       the module file itself (nothing else is tried when it is set)
//   2. beside the program or library that holds this code, and in its ../lib
//   3. the build tree's lib/ (SDR_CUDA_MODULE_BUILD_DIR, for tests and uninstalled builds)
//   4. the dynamic linker's own search (LD_LIBRARY_PATH, ldconfig)
// SDR_CUDA_LIB_PATH (':'-separated folders) names where the CUDA libraries the module needs
// (cuBLASLt; cuDNN, optional) live when the dynamic linker cannot find them, e.g. the `nvidia`
// packages of a Python environment: they are loaded from there first.
//
// Every failure is a reason string: module not built, not found (with the folders looked in),
// a CUDA library missing (named), a module from another build (version mismatch), and, once the
// module is loaded, its own probe (no driver, driver too old, no device).
//
// Thread-safety: CudaModule() is thread-safe (loads once); LoadCudaModule is reentrant.
#pragma once

#include <string>
#include <vector>

#include "backends/cuda_module.h"

namespace sdr {

struct CudaModuleSearch {
  std::string module_file;               // SDR_CUDA_MODULE, or "" to search
  std::vector<std::string> dirs;         // folders to look for kCudaModuleFile in, in order
  bool system_search = true;             // finally dlopen(kCudaModuleFile) by name
  std::vector<std::string> lib_dirs;     // SDR_CUDA_LIB_PATH, split
  std::vector<std::string> needed_libs;  // sonames the module links (libcublasLt.so.13), preloaded from lib_dirs
  bool built = true;                     // whether this build has a module at all (SDR_CUDA_ENABLED)
  std::string build_status;              // cmake/Cuda.cmake's line, for the "not built" reason
};

// The search the process uses: the environment, this library's folder, the build tree.
CudaModuleSearch DefaultCudaModuleSearch();

struct CudaModuleLoad {
  const CudaModuleApi* api = nullptr;  // the loaded module's table; null when not loaded
  std::string path;                    // the file loaded (or the one that failed)
  std::string reason;                  // why not loaded ("" when loaded)
  std::vector<std::string> preloaded;  // libraries loaded from lib_dirs, full paths
};

// dlopens the module as `search` says and checks its table. A loaded module is never unloaded.
CudaModuleLoad LoadCudaModule(const CudaModuleSearch& search);

// The process's module, loaded on first use with DefaultCudaModuleSearch().
const CudaModuleLoad& CudaModule();

// ':'-separated list -> its non-empty parts.
std::vector<std::string> SplitSearchPath(const std::string& list);

}  // namespace sdr
