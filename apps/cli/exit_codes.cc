#include "apps/cli/commands.h"

namespace sdr::cli {

int ExitCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInvalidArgument: return 3;
    case StatusCode::kNotFound: return 4;
    case StatusCode::kIoError: return 5;
    case StatusCode::kCorruptData: return 6;
    case StatusCode::kUnsupported: return 7;
    case StatusCode::kSecurity: return 8;
    case StatusCode::kOutOfMemory: return 9;
    case StatusCode::kCancelled: return 10;
    case StatusCode::kDeadlineExceeded: return 11;
    case StatusCode::kUnavailable: return 12;
    case StatusCode::kInternal: return 70;
  }
  return 1;
}

}  // namespace sdr::cli
