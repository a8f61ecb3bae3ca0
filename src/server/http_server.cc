#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/log.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/http_connection.h"
#include "server/routes.h"

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;

// The name /v1/models and /sdapi/v1/sd-models report.
std::string ModelName(const Generator& gen, const RuntimeConfig& config) {
  const std::string_view provider = gen.provider_name();
  if (provider == "openai") return config.openai_image_model;
  if (provider == "azure") return config.azure_deployment;
  const std::string stem = std::filesystem::path(config.model_path).stem().string();
  return stem.empty() ? "local" : stem;
}

// The code of an error answer cpp-httplib made itself (no route, a malformed request, ...).
ErrorCode CodeForLibraryStatus(int status) {
  if (status == 404) return ErrorCode::kNotFound;
  if (status == 413) return ErrorCode::kPayloadTooLarge;
  if (status >= 500) return ErrorCode::kGenerationFailed;
  return ErrorCode::kInvalidParams;
}

std::string MessageForLibraryStatus(const httplib::Request& req, int status, const ServerOptions& options) {
  const ConnectionStream* connection = CurrentConnection();
  if (connection != nullptr && connection->read_timed_out()) {
    return fmt::format("request not received in time (its headers must arrive within {:g} s, its body within {:g} s); "
                       "closing the connection",
                       options.header_timeout_s, options.body_timeout_s);
  }
  if (status == 404) return "no route for " + req.method.substr(0, 16) + " " + req.path.substr(0, 200);
  if (status == 413) return "request body too large";
  if (status == 414) return "request URI too long";
  if (status >= 500) return "internal error";
  return "malformed HTTP request (status " + std::to_string(status) + ")";
}

bool HasBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<Generator> generator;
  ServerOptions options;
  Metrics metrics;
  std::unique_ptr<JobQueue> jobs;
  std::atomic<bool> stopping{false};
  std::unique_ptr<ServerContext> ctx;
  std::unique_ptr<DeadlineHttpServer> http;
  std::unique_ptr<Router> router;
  std::thread listener;
  int port = 0;
  std::mutex shutdown_mu;
  bool shut_down = false;
  std::mutex log_mu;

  size_t BodyLimit(const std::string& path) const {
    return CarriesImages(path) ? options.limits.max_image_body_bytes : options.limits.max_body_bytes;
  }
  void WriteAccessLine(const std::string& line) {
    if (options.access_log) return options.access_log(line);
    std::lock_guard<std::mutex> lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  void Install();
};

void HttpServer::Impl::Install() {
  const int threads = options.http_threads > 0 ? options.http_threads
                                               : 4 * (options.max_queue + jobs->workers()) + 32;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http->set_keep_alive_max_count(1000);
  http->set_payload_max_length(std::max(options.limits.max_body_bytes, options.limits.max_image_body_bytes));
  http->set_tcp_nodelay(true);

  // Before the body is read: the request's record, the body deadline, auth, the size limit.
  http->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    RequestRecordState& rec = CurrentRequestRecord();
    rec = RequestRecordState{};
    rec.started = true;
    rec.start = Clock::now();
    StartBodyDeadline();
    const ApiFamily family = FamilyOf(req.path);
    if (req.path != "/health" && !IsWebAssetPath(req.path)) {
      if (auto e = CheckBearer(req.get_header_value("Authorization"), options.api_key)) {
        if (HasBody(req)) {  // its body stays unread: the connection cannot carry another request
          res.set_header("Connection", "close");
          CloseAfterResponse();
        }
        SendError(res, *e, family);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (req.has_header("Content-Length")) {
      const std::string text = req.get_header_value("Content-Length");
      const size_t limit = BodyLimit(req.path);
      const bool digits = !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoull(text) > limit) {
        res.set_header("Connection", "close");
        CloseAfterResponse();
        SendError(res,
                  {digits ? ErrorCode::kPayloadTooLarge : ErrorCode::kInvalidParams,
                   digits ? "request body is " + text + " bytes, more than the " + std::to_string(limit) +
                                " this endpoint accepts"
                          : "malformed Content-Length",
                   ""},
                  family);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Error answers cpp-httplib made itself get a body in the API's shape.
  http->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
    const int status = res.status;
    const ConnectionStream* connection = CurrentConnection();
    if (connection != nullptr && connection->read_timed_out()) res.set_header("Connection", "close");
    SendError(res, {CodeForLibraryStatus(status), MessageForLibraryStatus(req, status, options), ""}, FamilyOf(req.path));
    if (status != 500) res.status = status;  // keep the library's precise 4xx (414, 431, ...)
    return httplib::Server::HandlerResponse::Handled;
  }));
  http->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    res.body.clear();
    SendError(res, {ErrorCode::kGenerationFailed, "internal error", ""}, FamilyOf(req.path));
  });
  // After each response (for streams, once the stream ended): metrics and the access log.
  http->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    RequestRecordState& rec = CurrentRequestRecord();
    AccessEntry e;
    e.method = req.method;
    e.route = router->RouteOf(req.method, req.path);
    e.path = req.path;
    e.remote = req.remote_addr;
    e.job_id = rec.job_id;
    e.status = res.status;
    e.ms = rec.started ? std::chrono::duration<double, std::milli>(Clock::now() - rec.start).count() : 0;
    e.error = rec.error;
    if (e.status >= 400 && e.error == ErrorCode::kOk) e.error = CodeForLibraryStatus(e.status);
    metrics.CountRequest(e.method, e.route, e.status);
    if (e.status >= 400) metrics.CountError(e.error);
    WriteAccessLine(FormatAccessLine(e));
    rec = RequestRecordState{};
  });

  router = std::make_unique<Router>(*http);
  AddSystemRoutes(*router, *ctx);
  AddOpenAiRoutes(*router, *ctx);
  AddJobRoutes(*router, *ctx);
  AddA1111Routes(*router, *ctx);
  AddWebRoutes(*router);
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(0); }

Result<std::unique_ptr<HttpServer>> HttpServer::Create(std::unique_ptr<Generator> generator, ServerOptions options,
                                                       const RuntimeConfig& config) {
  if (generator == nullptr) return InvalidArgument("HttpServer needs a Generator");
  if (options.max_queue < 0 || options.max_queue > RuntimeConfig::kMaxQueue) {
    return InvalidArgument("max_queue " + std::to_string(options.max_queue) + " must be in [0, " +
                           std::to_string(RuntimeConfig::kMaxQueue) + "]");
  }
  if (options.port < 0 || options.port > RuntimeConfig::kMaxPort) {
    return InvalidArgument("port " + std::to_string(options.port) + " must be in [0, 65535]");
  }
  const RequestLimits& l = options.limits;
  if (l.min_side < 8 || l.max_side < l.min_side || l.max_steps < 1 || l.max_n < 1 || l.max_prompt_bytes == 0) {
    return InvalidArgument("request limits out of range");
  }
  auto impl = std::make_unique<Impl>();
  impl->generator = std::move(generator);
  impl->options = std::move(options);
  Impl* raw = impl.get();
  JobQueueOptions q;
  q.max_queue = raw->options.max_queue;
  q.result_ttl_s = raw->options.result_ttl_s;
  q.max_results = raw->options.max_results;
  q.preview_interval_s = raw->options.preview_interval_s;
  q.on_finished = [raw](const Job&, const JobSnapshot& s) {
    const ErrorCode outcome = s.state == JobState::kSucceeded ? ErrorCode::kOk
                              : s.error                       ? s.error->code
                                                              : ErrorCode::kGenerationFailed;
    raw->metrics.CountJob(outcome, s.run_seconds, s.progress.steps_done);
  };
  impl->jobs = std::make_unique<JobQueue>(*impl->generator, std::move(q));
  impl->ctx.reset(new ServerContext{*impl->generator, *impl->jobs, impl->metrics, impl->options,
                                    ParamsFromConfig(config), ModelName(*impl->generator, config), impl->stopping});
  ConnectionTimeouts timeouts;
  timeouts.header_timeout_s = impl->options.header_timeout_s;
  timeouts.body_timeout_s = impl->options.body_timeout_s;
  timeouts.idle_timeout_s = impl->options.idle_timeout_s;
  timeouts.write_timeout_s = impl->options.write_timeout_s;
  impl->http = std::make_unique<DeadlineHttpServer>(timeouts);
  impl->Install();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (!IsLoopbackHost(s.options.host) && s.options.api_key.empty()) {
    SDR_LOG_WARN("server: listening on {} without an API key: anyone who reaches this address can generate "
                 "(set SD_API_KEY or --api-key, or bind 127.0.0.1)",
                 s.options.host);
  }
  if (s.options.port == 0) {
    s.port = s.http->bind_to_any_port(s.options.host);
  } else {
    s.port = s.http->bind_to_port(s.options.host, s.options.port) ? s.options.port : -1;
  }
  if (s.port <= 0) {
    return WithErrorCode(IoError("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                                 " (in use, not a local address, or not allowed)"),
                         ErrorCode::kIoError);
  }
  s.listener = std::thread([&s] { s.http->listen_after_bind(); });
  while (!s.http->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  SDR_LOG_INFO("server: listening on http://{}:{} (provider {}, {} slot(s), queue {})", s.options.host, s.port,
               s.generator->provider_name(), s.jobs->workers(), s.options.max_queue);
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

double HttpServer::shutdown_grace_s() const { return impl_->options.shutdown_grace_s; }

void HttpServer::Shutdown(double grace_s) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.shutdown_mu);
  if (s.shut_down) return;
  s.shut_down = true;
  s.stopping = true;
  // Jobs first, while connections are still served: new jobs get 503, the running ones finish
  // (or are cancelled after the grace period), and their clients see the end of their streams.
  s.jobs->Shutdown(grace_s);
  // Streams notice a finished job within their 250 ms poll; give them that long to send it.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  if (s.listener.joinable()) {
    s.http->stop();
    s.listener.join();  // the library joins its connection threads before listen returns
  }
}

ServerOptions ServerOptionsFromConfig(const RuntimeConfig& config) {
  ServerOptions o;
  o.host = config.host;
  o.port = config.port;
  o.api_key = config.api_key;
  o.max_queue = config.max_queue;
  return o;
}

}  // namespace sdr
