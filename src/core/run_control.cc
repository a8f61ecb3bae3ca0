#include "core/run_control.h"

namespace sdr {

RunControl RunControl::WithTimeout(const CancelToken* token, double timeout_s, const CancelToken* second_token) {
  std::optional<Clock::time_point> deadline;
  if (timeout_s > 0) {
    deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  }
  RunControl rc(token, deadline, second_token);
  rc.timeout_s_ = timeout_s > 0 ? timeout_s : 0;
  return rc;
}

Status RunControl::Check() const {
  if ((token_ != nullptr && token_->cancelled()) || (second_ != nullptr && second_->cancelled())) {
    return Cancelled("generation cancelled");
  }
  if (deadline_ && Clock::now() >= *deadline_) {
    if (timeout_s_ > 0) {
      return DeadlineExceeded("generation timed out (timeout " + std::to_string(static_cast<long long>(timeout_s_)) +
                              " s)");
    }
    return DeadlineExceeded("generation timed out");
  }
  return Status::Ok();
}

}  // namespace sdr
