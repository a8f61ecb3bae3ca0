#include "runtime/model_hash_cache.h"

#include <system_error>
#include <thread>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/infotext.h"

namespace sdr {
namespace {

std::string CacheFile() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/sdruntime/model_hashes.txt";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/sdruntime/model_hashes.txt";
  return "";
}

}  // namespace

Result<std::string> CachedModelHash(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound("cannot stat '" + path + "'");
  if (!S_ISREG(st.st_mode)) return std::string();
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(path, ec).string();
  std::ostringstream key;
  key << st.st_size << ' ' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec << ' ' << abs;
  const std::string cache = CacheFile();
  if (!cache.empty()) {
    std::ifstream in(cache);
    std::string line;
    while (std::getline(in, line)) {
      const size_t sp = line.rfind(' ');
      if (sp != std::string::npos && line.compare(0, sp, key.str()) == 0) return line.substr(sp + 1);
    }
  }
  SDR_ASSIGN_OR_RETURN(std::string hash, ModelHash(path));
  if (!cache.empty()) {
    std::filesystem::create_directories(std::filesystem::path(cache).parent_path(), ec);
    std::ofstream out(cache, std::ios::app);
    out << key.str() << ' ' << hash << '\n';
  }
  return hash;
}

std::shared_future<Result<std::string>> CachedModelHashAsync(const std::string& path) {
  auto promise = std::make_shared<std::promise<Result<std::string>>>();
  std::shared_future<Result<std::string>> future = promise->get_future().share();
  try {
    std::thread([promise, path] {
      try {
        promise->set_value(CachedModelHash(path));
      } catch (...) {
        promise->set_value(InternalError("model hash of '" + path + "' failed"));
      }
    }).detach();
  } catch (const std::system_error&) {  // no thread: hash here
    promise->set_value(CachedModelHash(path));
  }
  return future;
}

}  // namespace sdr
