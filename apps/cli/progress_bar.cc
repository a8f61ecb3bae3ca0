#include "apps/cli/progress_bar.h"

#include <string>

namespace sdr::cli {

void ProgressBar::Update(int step, int total, double elapsed_s) {
  if (!enabled_ || total <= 0) return;
  constexpr int kWidth = 30;
  const int filled = step * kWidth / total;
  const double per_step = step > 0 ? elapsed_s / step : 0.0;
  const double eta = per_step * (total - step);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r[%s] %d/%d steps  %.2f s/step  ETA %.0f s ", bar.c_str(), step, total, per_step, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace sdr::cli
