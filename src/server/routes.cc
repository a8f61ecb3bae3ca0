#include "server/routes.h"

#include <chrono>
#include <new>

#include "server/access_log.h"
#include "server/http_connection.h"

namespace sdr {
namespace {

// "/v1/jobs/{id}" -> "/v1/jobs/([^/]+)"; other characters are literal (escaped).
std::string PatternRegex(const std::string& pattern) {
  std::string re;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '{') {
      i = pattern.find('}', i);
      re += "([^/]+)";
    } else if (std::string_view(".+*?^$()[]|\\").find(c) != std::string_view::npos) {
      re += '\\';
      re += c;
    } else {
      re += c;
    }
  }
  return re;
}

bool PatternMatches(const std::string& pattern, const std::string& path) {
  size_t p = 0, q = 0;
  while (p < pattern.size() && q < path.size()) {
    if (pattern[p] == '{') {
      const size_t end = path.find('/', q);
      const size_t seg_end = end == std::string::npos ? path.size() : end;
      if (seg_end == q) return false;  // an empty segment
      q = seg_end;
      p = pattern.find('}', p) + 1;
    } else if (pattern[p] == path[q]) {
      ++p;
      ++q;
    } else {
      return false;
    }
  }
  return p == pattern.size() && q == path.size();
}

}  // namespace

bool CarriesImages(const std::string& path) {
  return path == "/sdapi/v1/png-info" || path == "/sdapi/v1/img2img" || path == "/v1/images/edits";
}

ApiFamily FamilyOf(const std::string& path) {
  return path.rfind("/sdapi/", 0) == 0 ? ApiFamily::kA1111 : ApiFamily::kOpenAi;
}

void Router::Add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.emplace_back(method, pattern);
  // Every handler catches everything: nothing a request does can end the process.
  httplib::Server::Handler wrapped = [handler = std::move(handler)](const httplib::Request& req,
                                                                    httplib::Response& res) {
    const auto fail = [&](std::string message) {
      res.body.clear();
      res.content_provider_ = nullptr;
      SendError(res, {ErrorCode::kGenerationFailed, "internal error: " + message, ""}, FamilyOf(req.path));
    };
    try {
      handler(req, res);
    } catch (const std::bad_alloc&) {
      res.body.clear();
      SendError(res, {ErrorCode::kOutOfMemory, "out of memory while answering", ""}, FamilyOf(req.path));
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      fail("unknown exception");
    }
  };
  const std::string re = PatternRegex(pattern);
  if (method == "GET") server_.Get(re, std::move(wrapped));
  if (method == "POST") server_.Post(re, std::move(wrapped));
  if (method == "DELETE") server_.Delete(re, std::move(wrapped));
}

void Router::Get(const std::string& pattern, Handler handler) { Add("GET", pattern, std::move(handler)); }
void Router::Post(const std::string& pattern, Handler handler) { Add("POST", pattern, std::move(handler)); }
void Router::Delete(const std::string& pattern, Handler handler) { Add("DELETE", pattern, std::move(handler)); }

std::string Router::RouteOf(const std::string& method, const std::string& path) const {
  for (const auto& [m, pattern] : routes_) {
    if ((m == method || (m == "GET" && method == "HEAD")) && PatternMatches(pattern, path)) return pattern;
  }
  return "unmatched";
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void SendError(httplib::Response& res, const ApiError& error, ApiFamily family, int retry_after_s) {
  NoteError(error.code);
  if (retry_after_s > 0) res.set_header("Retry-After", std::to_string(retry_after_s));
  if (error.code == ErrorCode::kUnauthorized) res.set_header("WWW-Authenticate", "Bearer");
  SendJson(res, error.http_status(), family == ApiFamily::kA1111 ? A1111ErrorBody(error) : OpenAiErrorBody(error));
}

void SendSubmitError(httplib::Response& res, const ServerContext& ctx, const Status& status, ApiFamily family) {
  const ApiError error = ApiError::FromStatus(status);
  const bool retry = error.code == ErrorCode::kQueueFull || error.code == ErrorCode::kUnavailable;
  SendError(res, error, family, retry ? ctx.jobs.RetryAfterSeconds() : 0);
}

void NoteJob(const std::string& job_id) { CurrentRequestRecord().job_id = job_id; }
void NoteError(ErrorCode code) { CurrentRequestRecord().error = code; }

std::string BaseUrl(const httplib::Request& req) {
  std::string host = req.get_header_value("Host");
  // Only what a host[:port] can hold: anything else (a forged header) falls back to our address.
  const bool plain = !host.empty() && host.size() < 256 &&
                     host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                         std::string::npos;
  if (!plain) host = (req.local_addr.find(':') != std::string::npos ? "[" + req.local_addr + "]" : req.local_addr) + ":" +
                     std::to_string(req.local_port);
  return "http://" + host;
}

httplib::ContentProviderWithoutLength SafeProvider(httplib::ContentProviderWithoutLength provider) {
  return [provider = std::move(provider)](size_t offset, httplib::DataSink& sink) {
    try {
      return provider(offset, sink);
    } catch (...) {
      return false;
    }
  };
}

bool AwaitJob(ServerContext& ctx, const std::shared_ptr<Job>& job) {
  using namespace std::chrono_literals;
  while (!job->WaitFinished(200ms)) {
    if (CurrentPeerClosed()) {
      ctx.jobs.Cancel(job);
      job->WaitFinished(10s);  // normally within a layer; never block an HTTP thread for long
      return false;
    }
  }
  return true;
}

}  // namespace sdr
