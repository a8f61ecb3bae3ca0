#include "backends/cuda_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#ifndef SDR_SEAM_ID
#error "SDR_SEAM_ID must be defined (src/backends/CMakeLists.txt)"
#endif
#ifndef SDR_CUDA_BUILT
#define SDR_CUDA_BUILT 0
#endif
#ifndef SDR_CUDA_BUILD_STATUS
#define SDR_CUDA_BUILD_STATUS "configured without cmake/Cuda.cmake"
#endif
#ifndef SDR_CUDA_MODULE_BUILD_DIR
#define SDR_CUDA_MODULE_BUILD_DIR ""
#endif
#ifndef SDR_CUDA_NEEDED_LIBS
#define SDR_CUDA_NEEDED_LIBS ""
#endif

namespace sdr {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool IsFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string DirOf(const std::string& file) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::path(file), ec);
  return ec ? "" : p.parent_path().string();
}

// `dir` made absolute and normal ("/opt/sdr/bin/../lib" -> "/opt/sdr/lib"); "" if it does not exist.
std::string ExistingDir(const std::string& dir) {
  std::error_code ec;
  const fs::path p = fs::canonical(fs::path(dir), ec);
  return ec || !fs::is_directory(p, ec) ? "" : p.string();
}

// Folders of the object holding this code (libsdr.so, or the program it is linked into) and of
// the running program.
std::vector<std::string> OwnDirs() {
  std::vector<std::string> dirs;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OwnDirs), &info) != 0 && info.dli_fname != nullptr &&
      info.dli_fname[0] == '/') {
    dirs.push_back(DirOf(info.dli_fname));
  }
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    dirs.push_back(DirOf(exe));
  }
  return dirs;
}

void AddUnique(std::vector<std::string>* v, const std::string& s) {
  if (s.empty()) return;
  for (const std::string& e : *v) {
    if (e == s) return;
  }
  v->push_back(s);
}

// "libfoo.so.1: cannot open shared object file: ..." -> "libfoo.so.1"; "" for other errors.
std::string MissingLibrary(const std::string& dl_error) {
  const std::string marker = ": cannot open shared object file";
  const size_t at = dl_error.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = dl_error.rfind(' ', at);
  return dl_error.substr(start == std::string::npos ? 0 : start + 1, at - (start == std::string::npos ? 0 : start + 1));
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& e : v) s += (s.empty() ? "" : ", ") + e;
  return s;
}

}  // namespace

std::vector<std::string> SplitSearchPath(const std::string& list) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = list.find(':', start);
    const std::string part = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!part.empty()) parts.push_back(part);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return parts;
}

CudaModuleSearch DefaultCudaModuleSearch() {
  CudaModuleSearch s;
  s.module_file = Env("SDR_CUDA_MODULE");
  for (const std::string& d : OwnDirs()) {
    AddUnique(&s.dirs, d);
    AddUnique(&s.dirs, ExistingDir(d + "/../lib"));
  }
  AddUnique(&s.dirs, SDR_CUDA_MODULE_BUILD_DIR);
  s.lib_dirs = SplitSearchPath(Env("SDR_CUDA_LIB_PATH"));
  s.needed_libs = SplitSearchPath(SDR_CUDA_NEEDED_LIBS);
  s.built = SDR_CUDA_BUILT != 0;
  s.build_status = SDR_CUDA_BUILD_STATUS;
  return s;
}

CudaModuleLoad LoadCudaModule(const CudaModuleSearch& search) {
  CudaModuleLoad load;
  // The CUDA libraries from SDR_CUDA_LIB_PATH first, so that the module's own dependencies
  // resolve to them (the dynamic linker matches a needed soname against loaded libraries).
  for (const std::string& lib : search.needed_libs) {
    for (const std::string& dir : search.lib_dirs) {
      const std::string path = dir + "/" + lib;
      if (!IsFile(path)) continue;
      if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr) {
        load.preloaded.push_back(path);
        break;
      }
    }
  }

  std::vector<std::string> tried;
  if (!search.module_file.empty()) {
    if (!IsFile(search.module_file)) {
      load.reason = "SDR_CUDA_MODULE=" + search.module_file + " does not exist";
      return load;
    }
    load.path = search.module_file;
  } else {
    for (const std::string& dir : search.dirs) {
      const std::string path = dir + "/" + kCudaModuleFile;
      tried.push_back(dir);
      if (IsFile(path)) {
        load.path = path;
        break;
      }
    }
  }

  void* handle = nullptr;
  if (!load.path.empty()) {
    handle = dlopen(load.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  } else if (search.system_search) {
    handle = dlopen(kCudaModuleFile, RTLD_NOW | RTLD_LOCAL);
    load.path = kCudaModuleFile;
    if (handle == nullptr) {
      const char* e = dlerror();
      const std::string err = e != nullptr ? e : "";
      if (MissingLibrary(err) == kCudaModuleFile || err.empty()) {
        load.path.clear();
      } else {
        load.reason = "cannot load " + load.path + ": " + err;
        return load;
      }
    }
  }
  if (load.path.empty()) {
    if (!search.built) {
      load.reason = "this build has no CUDA backend (" + search.build_status + ")";
    } else {
      load.reason = std::string("the CUDA backend module ") + kCudaModuleFile + " was not found (looked in " +
                    (tried.empty() ? std::string("no folder") : Joined(tried)) +
                    (search.system_search ? " and the dynamic linker's path" : "") +
                    "); set SDR_CUDA_MODULE to its path";
    }
    return load;
  }
  if (handle == nullptr) {
    const char* e = dlerror();
    const std::string err = e != nullptr ? e : "unknown error";
    const std::string missing = MissingLibrary(err);
    if (!missing.empty() && missing != kCudaModuleFile) {
      load.reason = "cannot load " + load.path + ": the CUDA library " + missing +
                    " is missing (install the CUDA runtime libraries, or name the folder holding it in "
                    "SDR_CUDA_LIB_PATH" +
                    (search.lib_dirs.empty() ? std::string("") : ", now " + Joined(search.lib_dirs)) + ")";
    } else {
      load.reason = "cannot load " + load.path + ": " + err;
    }
    return load;
  }
  auto entry = reinterpret_cast<CudaModuleEntryFn>(dlsym(handle, kCudaModuleEntry));
  if (entry == nullptr) {
    load.reason = load.path + " is not an sdruntime CUDA module (it has no " + kCudaModuleEntry + ")";
    return load;
  }
  const CudaModuleApi* api = entry();
  if (api == nullptr) {
    load.reason = load.path + ": " + kCudaModuleEntry + "() returned nothing";
    return load;
  }
  if (api->abi != kCudaModuleAbi) {
    load.reason = "version mismatch: " + load.path + " has module ABI " + std::to_string(api->abi) +
                  ", this library needs " + std::to_string(kCudaModuleAbi) + " (rebuild the module with this sdruntime)";
    return load;
  }
  if (api->seam_id == nullptr || std::strcmp(api->seam_id, SDR_SEAM_ID) != 0) {
    load.reason = "version mismatch: " + load.path + " was built from another sdruntime (seam " +
                  (api->seam_id != nullptr ? api->seam_id : "?") + ", version " +
                  (api->version != nullptr ? api->version : "?") + "; this library has seam " + SDR_SEAM_ID +
                  "): rebuild the module with this sdruntime";
    return load;
  }
  load.api = api;
  return load;
}

const CudaModuleLoad& CudaModule() {
  static std::once_flag once;
  static CudaModuleLoad* load = nullptr;
  std::call_once(once, [] { load = new CudaModuleLoad(LoadCudaModule(DefaultCudaModuleSearch())); });
  return *load;
}

}  // namespace sdr
