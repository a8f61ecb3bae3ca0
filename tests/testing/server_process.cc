#include "testing/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace sdr::testing {
namespace {

using Clock = std::chrono::steady_clock;

int StatusOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

ServerProcess::ServerProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  int out[2];
  if (pipe(out) != 0) {
    error_ = "pipe failed";
    return;
  }
  std::vector<std::string> argv_s = {std::string(SDR_BIN_DIR) + "/sdr", "serve", "--host", "127.0.0.1", "--port", "0"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  if (pid_ < 0) {
    close(out[0]);
    error_ = "fork failed";
    return;
  }
  // Reads stdout until EOF: the port from the first line, then the access log.
  reader_ = std::thread([this, fd = out[0]] {
    FILE* f = fdopen(fd, "r");
    char buf[65536];
    while (f != nullptr && std::fgets(buf, sizeof(buf), f) != nullptr) {
      std::string line(buf);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      std::lock_guard<std::mutex> lock(mu_);
      if (!ready_) {
        const std::string marker = "listening on http://127.0.0.1:";
        const size_t at = line.find(marker);
        if (at != std::string::npos) listening_port_ = std::atoi(line.c_str() + at + marker.size());
        ready_ = true;
        ready_cv_.notify_all();
        continue;
      }
      lines_.push_back(line);
    }
    if (f != nullptr) std::fclose(f);
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
    ready_cv_.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu_);
    ready_cv_.wait_for(lock, std::chrono::seconds(60), [&] { return ready_; });
    port_ = listening_port_;
  }
  if (port_ <= 0) error_ = "sdr serve did not print where it listens (see stderr)";
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && exit_status_ == -2) Stop(SIGKILL, 10);
  if (reader_.joinable()) reader_.join();
}

std::string ServerProcess::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

bool ServerProcess::Running() {
  if (pid_ <= 0 || exit_status_ != -2) return false;
  int wstatus = 0;
  if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    exit_status_ = StatusOf(wstatus);
    return false;
  }
  return true;
}

int ServerProcess::Stop(int signal, double timeout_s) {
  if (pid_ <= 0) return -1;
  if (exit_status_ != -2) return exit_status_;
  kill(pid_, signal);
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      exit_status_ = StatusOf(wstatus);
      if (reader_.joinable()) reader_.join();
      return exit_status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  int wstatus = 0;
  waitpid(pid_, &wstatus, 0);
  exit_status_ = -1;
  if (reader_.joinable()) reader_.join();
  return -1;
}

std::vector<std::string> ServerProcess::AccessLog() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

long ServerProcess::MaxRssKb() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace sdr::testing
