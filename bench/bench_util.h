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

// The first CPU of /proc/cpuinfo: its model name, family and model (a VM's model name may say
// only "AMD EPYC": family 25 is Zen 3 / Zen 4, 26 Zen 5), and whether it has AVX-512F.
inline std::string CpuLine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name = "unknown CPU", family = "?", model = "?";
  bool avx512 = false;
  auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(in, line) && !line.empty()) {
    if (line.rfind("model name", 0) == 0) name = value();
    if (line.rfind("cpu family", 0) == 0) family = value();
    if (line.rfind("model\t", 0) == 0) model = value();
    if (line.rfind("flags", 0) == 0) avx512 = line.find(" avx512f") != std::string::npos;
  }
  return name + " (family " + family + ", model " + model + (avx512 ? ", AVX-512F)" : ", no AVX-512)");
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
