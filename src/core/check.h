// Always-on invariant checks. A failed check is a bug in our code (never bad input): it prints
// file:line and the condition, then aborts. Bad input is reported through Status instead.
#pragma once

namespace sdr::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace sdr::internal

#define SDR_CHECK(cond) \
  ((cond) ? (void)0 : ::sdr::internal::CheckFailed(__FILE__, __LINE__, #cond))
