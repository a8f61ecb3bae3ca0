#include "testing/fake_image_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "imagegen/base64.h"
#include "runtime/png_writer.h"

namespace sdr::testing {

namespace {
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

FakeImageServer::FakeImageServer() : server_(std::make_unique<httplib::Server>()) {
  auto record = [this](const httplib::Request& req) {
    Request r;
    r.method = req.method;
    r.path = req.path;
    r.query_api_version = req.get_param_value("api-version");
    for (const auto& [k, v] : req.headers) r.headers[Lower(k)] = v;
    r.body = req.body;
    r.at = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(std::move(r));
  };
  server_->Post(".*", [this, record](const httplib::Request& req, httplib::Response& res) {
    record(req);
    Reply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!script_.empty()) reply = script_[std::min(next_++, script_.size() - 1)];
    }
    // A slow answer, in slices so that the destructor never waits long.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(reply.delay_s);
    while (std::chrono::steady_clock::now() < until && !stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.truncate_at > 0) {
      auto body = std::make_shared<std::string>(reply.body);
      const size_t cut = reply.truncate_at;
      res.set_content_provider(body->size(), reply.content_type,
                               [body, cut](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset < cut) sink.write(body->data() + offset, cut - offset);
                                 return false;  // hang up before the announced length
                               });
    } else {
      res.set_content(reply.body, reply.content_type);
    }
  });
  server_->Get(".*", [this, record](const httplib::Request& req, httplib::Response& res) {
    record(req);
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = files_.find(req.path);
    if (it == files_.end()) {
      res.status = 404;
      res.set_content("not found", "text/plain");
      return;
    }
    res.set_content(it->second, "image/png");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) std::abort();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // The socket listens already (connections queue); wait for the accept loop so that stop() works.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeImageServer::~FakeImageServer() {
  stopping_ = true;
  server_->stop();
  thread_.join();
}

std::string FakeImageServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void FakeImageServer::Script(std::vector<Reply> replies) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(replies);
  next_ = 0;
}

void FakeImageServer::ServeFile(const std::string& path, std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path] = std::move(bytes);
}

std::vector<FakeImageServer::Request> FakeImageServer::Received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

FakeImageServer::Reply FakeImageServer::Json(int status, std::string body, std::map<std::string, std::string> headers) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

FakeImageServer::Reply FakeImageServer::B64Images(const std::vector<std::string>& images,
                                                  const std::string& revised_prompt) {
  nlohmann::json data = nlohmann::json::array();
  for (const std::string& png : images) {
    nlohmann::json item = {{"b64_json", EncodeBase64(png)}};
    if (!revised_prompt.empty()) item["revised_prompt"] = revised_prompt;
    data.push_back(item);
  }
  return Json(200, nlohmann::json{{"created", 1700000000}, {"data", data}}.dump(), {{"x-request-id", "req_ok_1"}});
}

FakeImageServer::Reply FakeImageServer::UrlImages(const std::vector<std::string>& urls) {
  nlohmann::json data = nlohmann::json::array();
  for (const std::string& u : urls) data.push_back({{"url", u}});
  return Json(200, nlohmann::json{{"created", 1700000000}, {"data", data}}.dump(), {{"x-request-id", "req_url_1"}});
}

FakeImageServer::Reply FakeImageServer::Error(int status, const std::string& message, const std::string& type,
                                              const std::string& code, std::map<std::string, std::string> headers) {
  nlohmann::json e = {{"message", message}, {"type", type}, {"param", nullptr}};
  e["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  if (headers.find("x-request-id") == headers.end()) headers["x-request-id"] = "req_err_" + std::to_string(status);
  return Json(status, nlohmann::json{{"error", e}}.dump(), std::move(headers));
}

std::string TestPng(int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  auto png = EncodePng(rgb.data(), width, height);
  if (!png.ok()) std::abort();
  return *png;
}

}  // namespace sdr::testing
