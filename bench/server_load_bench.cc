// A bounded load test of a running `sdr serve`: C clients, each sending R requests one after the
// other to POST /v1/images/generations (n = 1, small size, few steps), all at once. Prints the
// requests made, the status split (every one must be 200 or 429: a full queue is an answer, a 5xx
// or a dropped connection is a failure), p50 / p99 / max latency, the server's peak RSS (VmHWM of
// --pid), and checks that every returned image decodes and that the server's /metrics counted
// exactly the 200s and 429s the clients saw. Exit status 1 when any check fails.
//
// scripts/server_load_test.sh starts the server (pool 2, queue 16, tiny model) and runs this:
//   build/bin/sdr_bench_server_load http://127.0.0.1:7860 --pid PID [--clients 50] [--requests 2]
//                                   [--size 64] [--steps 2]
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "imagegen/base64.h"
#include "imagegen/image_check.h"

namespace {

using Clock = std::chrono::steady_clock;

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct Reply {
  long status = 0;  // 0: no answer
  std::string body;
  double seconds = 0;
};

Reply Call(const std::string& url, const std::string& body) {
  Reply r;
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  const auto start = Clock::now();
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

// The value of one metrics series (0 when absent: a counter not yet incremented).
double Metric(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::atof(text.c_str() + at + series.size() + 1);
    at += series.size();
  }
  return 0;
}

long PeakRssKb(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [--pid PID] [--clients 50] [--requests 2] [--size 64] [--steps 2]\n", argv[0]);
    return 2;
  }
  const std::string base = argv[1];
  int pid = 0, clients = 50, requests = 2, size = 64, steps = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--pid") pid = value;
    else if (flag == "--clients") clients = value;
    else if (flag == "--requests") requests = value;
    else if (flag == "--size") size = value;
    else if (flag == "--steps") steps = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string route = "sdr_http_requests_total{method=\"POST\",route=\"/v1/images/generations\",status=\"";
  const std::string before = Call(base + "/metrics", "").body;

  std::mutex mu;
  std::map<long, int> by_status;
  std::vector<double> latencies, ok_latencies;
  int bad_images = 0;
  std::atomic<bool> done{false};
  long peak_rss = pid > 0 ? PeakRssKb(pid) : -1;
  std::thread rss_watch([&] {
    while (!done && pid > 0) {
      peak_rss = std::max(peak_rss, PeakRssKb(pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int k = 0; k < requests; ++k) {
        const nlohmann::json body = {{"prompt", "load test " + std::to_string(c) + "/" + std::to_string(k)},
                                     {"size", std::to_string(size) + "x" + std::to_string(size)},
                                     {"steps", steps}, {"seed", c * 100 + k}};
        const Reply r = Call(base + "/v1/images/generations", body.dump());
        bool image_ok = true;
        if (r.status == 200) {
          const auto j = nlohmann::json::parse(r.body, nullptr, false);
          image_ok = !j.is_discarded() && j.contains("data") && j["data"].size() == 1;
          if (image_ok) {
            auto png = sdr::DecodeBase64(j["data"][0].value("b64_json", ""));
            auto dims = png.ok() ? sdr::DecodePngSize(*png) : sdr::Result<sdr::ImageSize>(png.status());
            image_ok = dims.ok() && dims->width == size && dims->height == size;
          }
        }
        std::lock_guard<std::mutex> lock(mu);
        ++by_status[r.status];
        latencies.push_back(r.seconds);
        if (r.status == 200) ok_latencies.push_back(r.seconds);
        if (!image_ok) ++bad_images;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  rss_watch.join();
  const std::string after = Call(base + "/metrics", "").body;

  const int total = clients * requests;
  std::printf("server load: %d clients x %d requests = %d requests in %.1f s against %s\n", clients, requests, total,
              wall, base.c_str());
  std::string split;
  for (const auto& [status, count] : by_status) {
    split += (split.empty() ? "" : ", ") + (status == 0 ? std::string("no answer") : std::to_string(status)) + ": " +
             std::to_string(count);
  }
  std::printf("status: %s\n", split.c_str());
  std::printf("latency (all): p50 %.2f s, p99 %.2f s, max %.2f s\n", Percentile(latencies, 0.5),
              Percentile(latencies, 0.99), Percentile(latencies, 1.0));
  std::printf("latency (200): p50 %.2f s, p99 %.2f s\n", Percentile(ok_latencies, 0.5), Percentile(ok_latencies, 0.99));
  if (pid > 0) std::printf("server peak RSS: %.1f MiB\n", static_cast<double>(peak_rss) / 1024.0);

  bool ok = true;
  for (const auto& [status, count] : by_status) {
    if (status != 200 && status != 429) {
      std::printf("FAIL: %d requests answered %ld\n", count, status);
      ok = false;
    }
  }
  if (bad_images > 0) {
    std::printf("FAIL: %d images did not decode as %dx%d PNGs\n", bad_images, size, size);
    ok = false;
  }
  for (long status : {200L, 429L}) {
    const double counted = Metric(after, route + std::to_string(status) + "\"}") -
                           Metric(before, route + std::to_string(status) + "\"}");
    const int seen = by_status.count(status) ? by_status[status] : 0;
    std::printf("metrics: %ld counted %.0f, clients saw %d\n", status, counted, seen);
    if (static_cast<int>(counted) != seen) ok = false;
  }
  std::printf("%s\n", ok ? "ok" : "FAILED");
  curl_global_cleanup();
  return ok ? 0 : 1;
}
