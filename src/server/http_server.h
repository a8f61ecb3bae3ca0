// HttpServer: `sdr serve`. OpenAI- and A1111-compatible image endpoints, async jobs with live
// progress over server-sent events, a bounded queue in front of the Generator, metrics and an
// access log, on cpp-httplib (see README "HTTP server" for the endpoints and why this library).
//
//   auto gen = CreateGeneratorFromConfig(config);                 // local model or cloud proxy
//   auto server = HttpServer::Create(std::move(*gen), ServerOptionsFromConfig(config), config);
//   SDR_RETURN_IF_ERROR((*server)->Start());                      // binds; serves on its own threads
//   ... wait for SIGTERM ...
//   (*server)->Shutdown();   // refuse new work, finish running jobs (grace), cancel the rest, stop
//
// Every request is answered by a handler that catches everything: no input can end the process,
// leak a context or leave a job unfinished. Bodies over the limit are refused (413) before they
// are read, and unauthenticated requests (401) before anything else; slow clients are cut off at
// the header/body deadlines.
//
// Thread-safety: Start and Shutdown from one thread; the server's own threads serve requests.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "imagegen/generator.h"
#include "runtime/config.h"
#include "server/server_options.h"

namespace sdr {

class HttpServer {
 public:
  // `config` gives the request defaults (ParamsFromConfig) and the model's name. InvalidArgument
  // for options out of range.
  static Result<std::unique_ptr<HttpServer>> Create(std::unique_ptr<Generator> generator, ServerOptions options,
                                                    const RuntimeConfig& config);
  ~HttpServer();  // Shutdown(0)
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free one) and serves on background threads. IoError naming the
  // address when it cannot bind. Logs a warning for a non-loopback host without an API key.
  Status Start();
  // The port bound (after Start).
  int port() const;

  // Stops accepting work (new jobs: 503), cancels the queued jobs, gives the running ones
  // `grace_s` seconds, cancels the rest, closes the listener and joins every thread. Idempotent.
  void Shutdown(double grace_s);
  void Shutdown() { Shutdown(shutdown_grace_s()); }
  double shutdown_grace_s() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sdr
