#include "server/access_log.h"

#include <cstdio>

#include <fmt/format.h>

namespace sdr {
namespace {

constexpr size_t kMaxPath = 200;

// Printable ASCII kept; everything else (and '"', '\\', ' ') as \xNN, so one token per field.
std::string Escaped(const std::string& s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out.empty() ? "-" : out;
}

}  // namespace

RequestRecordState& CurrentRequestRecord() {
  thread_local RequestRecordState state;
  return state;
}

std::string FormatAccessLine(const AccessEntry& e) {
  std::string line = fmt::format("access method={} route={} path={} status={} ms={:.1f} job={} remote={}",
                                 Escaped(e.method, 16), Escaped(e.route, kMaxPath), Escaped(e.path, kMaxPath), e.status,
                                 e.ms, e.job_id.empty() ? "-" : Escaped(e.job_id, 64), Escaped(e.remote, 64));
  if (e.error != ErrorCode::kOk) line += " error=" + std::string(ErrorCodeName(e.error));
  return line;
}

}  // namespace sdr
