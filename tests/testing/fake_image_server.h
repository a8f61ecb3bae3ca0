// FakeImageServer: an HTTP server on 127.0.0.1 (a free port) that answers like the OpenAI / Azure
// OpenAI images API from a script, for the cloud provider tests. Started by the constructor,
// stopped (and joined) by the destructor. It binds only the loopback address, so nothing a test
// does reaches another machine.
//
//   FakeImageServer server;
//   server.Script({FakeImageServer::Json(429, R"({"error":{...}})", {{"retry-after", "1"}}),
//                  FakeImageServer::B64Images({png})});
//   ... point OPENAI_BASE_URL at server.Url("/v1") ...
//   server.Received()  // what each request carried, with arrival times
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace sdr::testing {

class FakeImageServer {
 public:
  struct Reply {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
    std::string content_type = "application/json";
    double delay_s = 0;             // wait before answering (a slow service)
    size_t truncate_at = 0;         // > 0: announce the whole body, send this many bytes, hang up
  };
  struct Request {
    std::string method, path, query_api_version;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::chrono::steady_clock::time_point at;
  };

  FakeImageServer();
  ~FakeImageServer();
  FakeImageServer(const FakeImageServer&) = delete;
  FakeImageServer& operator=(const FakeImageServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path = "") const;  // "http://127.0.0.1:PORT" + path

  // The replies to POST requests, in order; the last one repeats.
  void Script(std::vector<Reply> replies);
  // GET `path` answers `bytes` (image/png).
  void ServeFile(const std::string& path, std::string bytes);
  std::vector<Request> Received() const;

  // Replies as the real services give them.
  static Reply Json(int status, std::string body, std::map<std::string, std::string> headers = {});
  static Reply B64Images(const std::vector<std::string>& images, const std::string& revised_prompt = "");
  static Reply UrlImages(const std::vector<std::string>& urls);
  static Reply Error(int status, const std::string& message, const std::string& type, const std::string& code,
                     std::map<std::string, std::string> headers = {});

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<Reply> script_;
  size_t next_ = 0;
  std::map<std::string, std::string> files_;
  std::vector<Request> received_;
};

// A small valid PNG (w x h, a gradient), made with the runtime's encoder.
std::string TestPng(int width = 16, int height = 8);

}  // namespace sdr::testing
