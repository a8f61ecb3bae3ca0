// RunControl: per-generation cancellation and deadline, checked by long-running code between
// units of work (sampler steps, UNet blocks, VAE blocks) so that a cancel or timeout takes
// effect within about one layer. A null RunControl* means "never stop".
//
// Thread-safety: Cancel() may be called from any thread while another runs Check().
#pragma once

#include <atomic>
#include <chrono>
#include <optional>

#include "core/status.h"

namespace sdr {

// A flag another thread can raise to stop a generation.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void Reset() { cancelled_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

class RunControl {
 public:
  using Clock = std::chrono::steady_clock;

  RunControl() = default;
  // Either token may be null (e.g. the caller's and the pool's).
  RunControl(const CancelToken* token, std::optional<Clock::time_point> deadline,
             const CancelToken* second_token = nullptr)
      : token_(token), second_(second_token), deadline_(deadline) {}

  // A deadline `timeout_s` seconds from now (none when timeout_s <= 0).
  static RunControl WithTimeout(const CancelToken* token, double timeout_s, const CancelToken* second_token = nullptr);

  // Cancelled when the token was raised, DeadlineExceeded past the deadline, else OK.
  Status Check() const;

  const std::optional<Clock::time_point>& deadline() const { return deadline_; }
  double timeout_s() const { return timeout_s_; }  // as given to WithTimeout; 0 = none or unknown

 private:
  const CancelToken* token_ = nullptr;
  const CancelToken* second_ = nullptr;
  std::optional<Clock::time_point> deadline_;
  double timeout_s_ = 0;
};

// Check() of a possibly-null control.
inline Status CheckRun(const RunControl* control) { return control ? control->Check() : Status::Ok(); }

}  // namespace sdr
