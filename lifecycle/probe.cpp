#include "lifecycle/probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace berth::lifecycle {
namespace {

// A socket closed on scope exit.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

bool makeAddress(const std::string& address, std::uint16_t port, sockaddr_storage& storage,
                 socklen_t& length) {
  std::memset(&storage, 0, sizeof storage);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

int remainingMs(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool waitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  pollfd entry{fd, events, 0};
  while (true) {
    const int ready = ::poll(&entry, 1, remainingMs(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

bool portFree(const std::string& address, std::uint16_t port) {
  sockaddr_storage storage;
  socklen_t length = 0;
  if (!makeAddress(address, port, storage, length)) return false;

  Socket socket(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket.fd() < 0) return false;
  const int on = 1;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  return ::bind(socket.fd(), reinterpret_cast<sockaddr*>(&storage), length) == 0;
}

bool answersHttp(const std::string& address, std::uint16_t port, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  sockaddr_storage storage;
  socklen_t length = 0;
  if (!makeAddress(address, port, storage, length)) return false;

  Socket socket(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.fd() < 0) return false;

  if (::connect(socket.fd(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS || !waitFor(socket.fd(), POLLOUT, deadline)) return false;
    int error = 0;
    socklen_t error_length = sizeof error;
    ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &error_length);
    if (error != 0) return false;
  }

  static constexpr char kRequest[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::send(socket.fd(), kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof kRequest - 1)) {
    return false;
  }

  char reply[5];
  std::size_t received = 0;
  while (received < sizeof reply) {
    if (!waitFor(socket.fd(), POLLIN, deadline)) return false;
    const ssize_t got = ::recv(socket.fd(), reply + received, sizeof reply - received, 0);
    if (got <= 0) {
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return false;
    }
    received += static_cast<std::size_t>(got);
  }
  return std::memcmp(reply, "HTTP/", sizeof reply) == 0;
}

}  // namespace berth::lifecycle
