// sdr serve [--host 127.0.0.1] [--port 7860] [--api-key KEY] [--max-queue 16] [-m MODEL ...]:
// the HTTP server (src/server/http_server.h) over the Generator the configuration selects (a
// local model, or a proxy to Azure OpenAI / OpenAI).
//
// stdout: "sdr serve: listening on http://HOST:PORT" once it listens (with --port 0, the port
// chosen), then one access-log line per request. stderr: the provider selection and warnings.
// SIGTERM / SIGINT: no new jobs, the running ones get 30 s to finish, the rest are cancelled,
// then exit 0 (further signals meanwhile are ignored).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <mutex>

#include "apps/cli/commands.h"
#include "apps/cli/config_flags.h"
#include "imagegen/selection.h"
#include "runtime/config.h"
#include "runtime/system_info.h"
#include "server/http_server.h"

namespace sdr::cli {
namespace {

struct ServeCommand {
  std::unique_ptr<ConfigFlags> config_flags;
};

Status RunServe(const ServeCommand& cmd) {
  // Before any thread exists, so that every thread inherits the mask and only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must never end the process

  SDR_ASSIGN_OR_RETURN(RuntimeConfig config, LoadConfigFromEnv());
  SDR_RETURN_IF_ERROR(cmd.config_flags->Apply(config));
  SetComputeThreads(config.threads);
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<Generator> gen, CreateGeneratorFromConfig(config));
  for (const std::string& r : gen->selection_reasons()) std::fprintf(stderr, "provider selection: %s\n", r.c_str());

  ServerOptions options = ServerOptionsFromConfig(config);
  auto log_mu = std::make_shared<std::mutex>();
  options.access_log = [log_mu](const std::string& line) {
    std::lock_guard<std::mutex> lock(*log_mu);
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
  };
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server, HttpServer::Create(std::move(gen), options, config));
  SDR_RETURN_IF_ERROR(server->Start());
  std::printf("sdr serve: listening on http://%s:%d\n", config.host.c_str(), server->port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  // A second signal while stopping changes nothing (the grace period bounds the wait): ignore it,
  // whichever thread it would reach.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  std::fprintf(stderr, "sdr serve: %s: stopping (new jobs refused; running jobs get %g s, then are cancelled)\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", server->shutdown_grace_s());
  server->Shutdown();
  std::fprintf(stderr, "sdr serve: stopped\n");
  return Status::Ok();
}

}  // namespace

Command RegisterServe(CLI::App& app) {
  auto cmd = std::make_shared<ServeCommand>();
  CLI::App* sub = app.add_subcommand("serve", "Serve images over HTTP (OpenAI- and A1111-compatible, async jobs)");
  cmd->config_flags = std::make_unique<ConfigFlags>(
      sub, std::initializer_list<std::string_view>{"host", "port", "api_key", "max_queue", "model_path", "vae_path",
                                                   "tokenizer_path", "taesd_path", "preview_every", "image_size",
                                                   "steps", "guidance_scale",
                                                   "negative_prompt", "sampler", "scheduler", "timeout_seconds",
                                                   "max_concurrent", "vae_tiling", "threads", "device"});
  return {sub, [cmd] { return RunServe(*cmd); }};
}

}  // namespace sdr::cli
