// ServerProcess: the real `sdr serve` program, started on 127.0.0.1 with --port 0 (a free port
// the server picks and prints), for end-to-end tests. Its stdout (the "listening" line, then one
// access-log line per request) is collected; stderr goes to the test's stderr. The destructor
// kills a server the test did not stop.
//
//   ServerProcess server({"-m", TinyModelPath(), "--max-queue", "2"}, {{"SD_THREADS", "1"}});
//   ASSERT_TRUE(server.ok()) << server.error();
//   HttpCall("GET", server.Url("/health"));
//   EXPECT_EQ(server.Stop(SIGTERM), 0);   // the exit status
//
// Thread-safety: one thread drives it; AccessLog() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sdr::testing {

class ServerProcess {
 public:
  // Runs `sdr serve --host 127.0.0.1 --port 0 ARGS...` with `env` added to the environment,
  // and waits (up to 60 s) for the line saying where it listens.
  ServerProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return port_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string Url(const std::string& path) const;  // "http://127.0.0.1:PORT" + path

  // Sends `signal` and waits up to `timeout_s` for the exit: its status (exit code; 128 + signal
  // when killed by one; -1 when it had to be killed after the timeout).
  int Stop(int signal, double timeout_s = 60);
  bool Running();  // the process has not exited

  std::vector<std::string> AccessLog() const;  // stdout lines after the "listening" line
  long MaxRssKb() const;  // the process's peak resident memory (VmHWM), while running

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = -2;  // -2: not reaped
  std::string error_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // the first stdout line (or EOF) is in
  bool ready_ = false;
  int listening_port_ = 0;
  std::vector<std::string> lines_;
};

}  // namespace sdr::testing
