#include "server/http_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sdr {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadAhead = 16 * 1024;

thread_local ConnectionStream* t_connection = nullptr;
thread_local const ConnectionTimeouts* t_timeouts = nullptr;

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

void AddressOf(const sockaddr_storage& addr, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

}  // namespace

ConnectionStream::ConnectionStream(int sock, const ConnectionTimeouts& timeouts) : sock_(sock), timeouts_(timeouts) {}

int ConnectionStream::PollFor(short events, std::chrono::milliseconds timeout) const {
  pollfd p{sock_, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL)) != 0) return -1;
    return r;
  }
}

bool ConnectionStream::is_readable() const {
  if (buffer_pos_ < buffer_.size()) return true;
  const auto now = Clock::now();
  if (now >= deadline_) {
    read_timed_out_ = true;
    return false;
  }
  const auto wait = std::min(Seconds(timeouts_.header_timeout_s), deadline_ - now);
  const int ready = PollFor(POLLIN, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
  if (ready == 0) read_timed_out_ = true;
  return ready > 0;
}

bool ConnectionStream::is_writable() const {
  return !PeerClosed() &&
         PollFor(POLLOUT, std::chrono::duration_cast<std::chrono::milliseconds>(Seconds(timeouts_.write_timeout_s))) > 0;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (buffer_pos_ >= buffer_.size()) {
    if (!is_readable()) return -1;  // deadline or timeout: the caller closes the connection
    buffer_.resize(kReadAhead);
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      buffer_.clear();
      buffer_pos_ = 0;
      return n;
    }
    buffer_.resize(static_cast<size_t>(n));
    buffer_pos_ = 0;
  }
  const size_t n = std::min(size, buffer_.size() - buffer_pos_);
  std::memcpy(ptr, buffer_.data() + buffer_pos_, n);
  buffer_pos_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(Seconds(timeouts_.write_timeout_s));
  if (PollFor(POLLOUT, timeout) <= 0) return -1;
  ssize_t n;
  do {
    n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  port = -1;
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) AddressOf(addr, ip, port);
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  port = -1;
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) AddressOf(addr, ip, port);
}

bool ConnectionStream::PeerClosed() const {
  char c;
  ssize_t n;
  do {
    n = ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n > 0) return false;                                      // more data (a pipelined request): alive
  if (n == 0) return true;                                      // orderly close
  return errno != EAGAIN && errno != EWOULDBLOCK;               // reset, or another error
}

bool DeadlineHttpServer::process_and_close_socket(socket_t sock) {
  // Small SSE writes go out at once; a send to a client that stopped reading gives up.
  const int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeouts_.write_timeout_s);
  tv.tv_usec = static_cast<suseconds_t>((timeouts_.write_timeout_s - static_cast<double>(tv.tv_sec)) * 1e6);
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ConnectionStream strm(sock, timeouts_);
  t_connection = &strm;
  t_timeouts = &timeouts_;
  bool ret = false;
  const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
  size_t count = keep_alive_max_count_;
  bool first = true;
  while (count > 0 && !stopping()) {
    if (!strm.WaitForRequest(first ? timeouts_.header_timeout_s : timeouts_.idle_timeout_s, stopping)) break;
    first = false;
    strm.SetReadDeadline(Clock::now() + Seconds(timeouts_.header_timeout_s));
    bool connection_closed = false;
    try {
      ret = process_request(strm, count == 1, connection_closed, nullptr);
    } catch (...) {
      ret = false;  // the handlers catch everything; this is the last line of defence for the process
    }
    if (!ret || connection_closed || strm.close_after_response() || strm.read_timed_out()) break;
    --count;
  }
  t_connection = nullptr;
  t_timeouts = nullptr;
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

ConnectionStream* CurrentConnection() { return t_connection; }

void CloseAfterResponse() {
  if (t_connection != nullptr) t_connection->CloseAfterResponse();
}

bool CurrentPeerClosed() { return t_connection != nullptr && t_connection->PeerClosed(); }

void StartBodyDeadline() {
  if (t_connection != nullptr && t_timeouts != nullptr) {
    t_connection->SetReadDeadline(Clock::now() + Seconds(t_timeouts->body_timeout_s));
  }
}

}  // namespace sdr
