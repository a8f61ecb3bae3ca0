// Logging with levels to stderr. The level comes from SetLogLevel() or, at first use, from the
// SDR_LOG_LEVEL environment variable (debug, info, warn, error, off; default warn).
// Logs are for operators; errors that callers must act on travel as Status, never only here.
//
// Thread-safety: all functions are safe to call from any thread; lines are not interleaved.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string_view>

namespace sdr {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError, kOff };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
std::optional<LogLevel> ParseLogLevel(std::string_view name);
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sdr

#define SDR_LOG_DEBUG(...) ::sdr::Log(::sdr::LogLevel::kDebug, __VA_ARGS__)
#define SDR_LOG_INFO(...) ::sdr::Log(::sdr::LogLevel::kInfo, __VA_ARGS__)
#define SDR_LOG_WARN(...) ::sdr::Log(::sdr::LogLevel::kWarn, __VA_ARGS__)
#define SDR_LOG_ERROR(...) ::sdr::Log(::sdr::LogLevel::kError, __VA_ARGS__)
