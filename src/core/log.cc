#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace sdr {
namespace {

constexpr std::string_view kNames[] = {"debug", "info", "warn", "error", "off"};

LogLevel InitialLevel() {
  const char* env = std::getenv("SDR_LOG_LEVEL");
  if (env != nullptr) {
    if (auto l = ParseLogLevel(env)) return *l;
  }
  return LogLevel::kWarn;
}

std::atomic<int>& LevelStorage() {
  static std::atomic<int> level{static_cast<int>(InitialLevel())};
  return level;
}

}  // namespace

void SetLogLevel(LogLevel level) { LevelStorage().store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(LevelStorage().load()); }

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (int i = 0; i < 5; ++i) {
    if (kNames[i] == name) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

void LogLine(LogLevel level, std::string_view message) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "[sdr %s] %.*s\n", std::string(kNames[static_cast<int>(level)]).c_str(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace sdr
