// What the route files (routes_*.cc, one per API family) share: the server's state, the router
// that names every route (for the access log and metrics), and the response helpers. Handlers
// are thin: parse -> validate (each field named in the error) -> one JobQueue / Generator call
// -> serialise; an error's HTTP status always comes from the error table (SendError).
//
// Thread-safety: handlers run on the HTTP threads, any number at once; ServerContext's members
// are thread-safe.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imagegen/generator.h"
#include "server/api_error.h"
#include "server/job_queue.h"
#include "server/metrics.h"
#include "server/server_options.h"

namespace sdr {

struct ServerContext {
  Generator& generator;
  JobQueue& jobs;
  Metrics& metrics;
  const ServerOptions& options;
  GenerateParams defaults;          // what unset request fields become (the configuration's)
  std::string model_name;           // local: the model file's stem; cloud: the provider's model
  const std::atomic<bool>& stopping;  // set when shutdown begins
};

enum class ApiFamily { kOpenAi, kA1111 };
// By path: /sdapi/... is A1111's, everything else OpenAI's error shape.
ApiFamily FamilyOf(const std::string& path);

// Routes with names: "/v1/jobs/{id}" matches one path segment per {name}; handlers read the
// segments from req.matches[1...].
class Router {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  explicit Router(httplib::Server& server) : server_(server) {}

  void Get(const std::string& pattern, Handler handler);
  void Post(const std::string& pattern, Handler handler);
  void Delete(const std::string& pattern, Handler handler);

  // The pattern that `path` matches for `method`; "unmatched" when none.
  std::string RouteOf(const std::string& method, const std::string& path) const;

 private:
  void Add(const std::string& method, const std::string& pattern, Handler handler);
  httplib::Server& server_;
  std::vector<std::pair<std::string, std::string>> routes_;  // (method, pattern)
};

void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
// The error in `family`'s shape with the table's status (+ Retry-After for queue_full).
void SendError(httplib::Response& res, const ApiError& error, ApiFamily family, int retry_after_s = 0);
// A JobQueue::Submit failure (queue_full, unavailable) as SendError, with Retry-After.
void SendSubmitError(httplib::Response& res, const ServerContext& ctx, const Status& status, ApiFamily family);

// The request's bookkeeping for its access-log line (thread-local: the thread serving it).
void NoteJob(const std::string& job_id);
void NoteError(ErrorCode code);

// "http://HOST" from the request's Host header (for url answers).
std::string BaseUrl(const httplib::Request& req);

// A streaming body's provider that catches everything: the library calls providers outside its
// own try block, where an exception would end the process. An exception ends the stream.
httplib::ContentProviderWithoutLength SafeProvider(httplib::ContentProviderWithoutLength provider);

// Waits for a synchronous request's job. Cancels it, and returns false, when the client goes
// away (the answer would reach no one); true once the job has finished.
bool AwaitJob(ServerContext& ctx, const std::shared_ptr<Job>& job);

void AddSystemRoutes(Router& router, ServerContext& ctx);  // /health /ready /metrics /v1/models /v1/capabilities
void AddOpenAiRoutes(Router& router, ServerContext& ctx);  // /v1/images/generations, /v1/images/edits
void AddJobRoutes(Router& router, ServerContext& ctx);     // /v1/jobs...
void AddA1111Routes(Router& router, ServerContext& ctx);   // /sdapi/v1/...
void AddWebRoutes(Router& router);                         // / (the web page), /app.js, /style.css

// The routes whose bodies carry images (png-info, img2img, images/edits): their body limit is
// RequestLimits::max_image_body_bytes instead of max_body_bytes.
bool CarriesImages(const std::string& path);

// The web page's own files: served without the API key (the page asks for it, then sends it).
bool IsWebAssetPath(const std::string& path);

}  // namespace sdr
