// What every benchmark prints or measures the same way: the CPU line, wall and CPU seconds, the
// process's peak RSS, seeded inputs, and a failed Status. Header-only and runtime-free (only Status), so a benchmark built
// against an older checkout (bench/seam_before_after.sh) takes it along.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/status.h"

namespace sdr::bench {

using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The first "model name" of /proc/cpuinfo.
inline std::string CpuLine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// CPU seconds (user + system) of the whole process so far: all its threads.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// n floats in [-scale / 2, scale / 2) from a 32-bit LCG started at `seed`: the same inputs every run.
inline std::vector<float> Filled(int64_t n, float scale, uint32_t seed = 12345) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * scale;
  }
  return v;
}

// The process's peak resident set so far, MiB.
inline double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

inline int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace sdr::bench
