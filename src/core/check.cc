#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace sdr::internal {

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, cond);
  std::fflush(stderr);
  std::abort();
}

}  // namespace sdr::internal
