#include "core/run_control.h"

namespace sdr {

Status RunControl::Check() const {
  if ((token_ != nullptr && token_->cancelled()) || (second_ != nullptr && second_->cancelled())) {
    return Cancelled("generation cancelled");
  }
  if (deadline_ && Clock::now() >= *deadline_) return DeadlineExceeded("generation timed out");
  return Status::Ok();
}

}  // namespace sdr
