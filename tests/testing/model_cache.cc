#include "testing/model_cache.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace sdr::testing {

std::string ModelCacheDir() {
  if (const char* c = std::getenv("SDR_MODEL_CACHE")) return c;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/sdruntime/models";
}

std::string FullSizeModel(const std::string& suffix) { return ModelCacheDir() + "/sd15-rand-" + suffix; }

int RunCommand(const std::string& cmd, std::string* out, bool merge_stderr) {
  const std::string full = merge_stderr ? cmd + " 2>&1" : cmd;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (out) out->append(buf.data(), n);
  }
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace sdr::testing
