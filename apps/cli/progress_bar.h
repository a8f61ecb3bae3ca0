// A one-line progress bar on stderr: "[#####.....] 5/20 steps  1.2 s/step  ETA 18 s".
#pragma once

#include <cstdio>

namespace sdr::cli {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void Update(int step, int total, double elapsed_s);
  void Finish();

 private:
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace sdr::cli
