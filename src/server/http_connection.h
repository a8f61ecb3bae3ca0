// How the server reads and writes one TCP connection: cpp-httplib's Server with its
// per-connection loop replaced, for three things the library (Debian's 0.11) lacks:
//
//   1. Deadlines per request, not per read: a request's line and headers must arrive within
//      `header_timeout_s` and its body within `body_timeout_s` of the headers, however slowly a
//      client dribbles bytes (slow-loris): past the deadline the connection is closed.
//   2. A probe for a client that went away (PeerClosed): synchronous endpoints cancel their
//      generation when it does, and streams stop.
//   3. Idle kept-alive connections end at once when the server stops.
//
// Everything else (parsing, routing, writing) is cpp-httplib's, through its protected
// process_request. The connection being served is the calling thread's (handlers run on it).
//
// Thread-safety: one ConnectionStream per connection, used by the thread serving it; the
// thread-local accessors are for that thread's handlers.
#pragma once

#include <httplib.h>
#include <poll.h>

#include <chrono>
#include <string>

namespace sdr {

struct ConnectionTimeouts {
  double header_timeout_s = 10;  // request line + headers, from the request's first byte
  double body_timeout_s = 60;    // the body, from the end of the headers (ExtendReadDeadline)
  double idle_timeout_s = 5;     // wait for the next request of a kept-alive connection
  double write_timeout_s = 30;   // one write to a client that does not read
};

class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, const ConnectionTimeouts& timeouts);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return sock_; }

  // Reads fail once `deadline` has passed.
  void SetReadDeadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }
  // True when the next request's first byte is here (or buffered) within `timeout_s`; false on
  // timeout, a closed peer, or when `stop()` turns true (checked every 50 ms).
  template <typename StopFn>
  bool WaitForRequest(double timeout_s, StopFn stop);
  // The client closed (or reset) its side: nothing it sends will arrive, and our answer cannot.
  bool PeerClosed() const;
  // Close the connection after the current response (its body was not read, e.g. a 401 or 413).
  void CloseAfterResponse() { close_after_response_ = true; }
  bool close_after_response() const { return close_after_response_; }
  // A read gave up at the deadline (or the wait for data timed out): the request is incomplete,
  // so the connection is closed after the error answer.
  bool read_timed_out() const { return read_timed_out_; }

 private:
  int PollFor(short events, std::chrono::milliseconds timeout) const;  // > 0 ready, 0 timeout, < 0 error

  const int sock_;
  const ConnectionTimeouts timeouts_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::string buffer_;  // read ahead
  size_t buffer_pos_ = 0;
  bool close_after_response_ = false;
  mutable bool read_timed_out_ = false;
};

// cpp-httplib's Server serving each connection through a ConnectionStream.
class DeadlineHttpServer : public httplib::Server {
 public:
  explicit DeadlineHttpServer(ConnectionTimeouts timeouts) : timeouts_(timeouts) {}

 private:
  // Overrides the library's (virtual) per-connection loop: keep-alive, deadlines, close.
  bool process_and_close_socket(socket_t sock) override;
  const ConnectionTimeouts timeouts_;
};

// The connection the calling thread serves (null outside a handler).
ConnectionStream* CurrentConnection();
// CurrentConnection() && CurrentConnection()->PeerClosed().
bool CurrentPeerClosed();
// The headers are in: the body must arrive within the body timeout (called before routing).
void StartBodyDeadline();
// The current connection closes after this response (CurrentConnection()->CloseAfterResponse()).
void CloseAfterResponse();

template <typename StopFn>
bool ConnectionStream::WaitForRequest(double timeout_s, StopFn stop) {
  if (buffer_pos_ < buffer_.size()) return true;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(timeout_s));
  while (!stop()) {
    const int r = PollFor(POLLIN, std::chrono::milliseconds(50));
    if (r < 0) return false;
    if (r > 0) return !PeerClosed();
    if (std::chrono::steady_clock::now() >= end) return false;
  }
  return false;
}

}  // namespace sdr
