// Result<T>: a T or a non-OK Status (the shape of absl::StatusOr). Accessing the value of an
// error Result is a bug and aborts with file:line.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "core/check.h"
#include "core/status.h"

namespace sdr {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    SDR_CHECK(!status_.ok());
  }
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { SDR_CHECK(ok()); return *value_; }
  const T& value() const& { SDR_CHECK(ok()); return *value_; }
  T&& value() && { SDR_CHECK(ok()); return std::move(*value_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;  // OK when value_ holds a value
  std::optional<T> value_;
};

}  // namespace sdr

// Evaluates `rexpr` (a Result); on error returns its Status, else moves the value into `lhs`.
#define SDR_ASSIGN_OR_RETURN(lhs, rexpr) \
  SDR_ASSIGN_OR_RETURN_IMPL(SDR_STATUS_CONCAT(sdr_result_, __LINE__), lhs, rexpr)
#define SDR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
