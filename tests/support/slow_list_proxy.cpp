#include "tests/support/slow_list_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace berth::testing {
namespace {

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

bool sendAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

}  // namespace

SlowListProxy::SlowListProxy(std::string path, std::chrono::milliseconds delay,
                             std::string upstream)
    : path_(std::move(path)), delay_(delay), upstream_(std::move(upstream)) {
  ::unlink(path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un address = unixAddress(path_);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on " + path_ + ": " + std::strerror(errno));
  }
  acceptor_ = std::thread(&SlowListProxy::acceptLoop, this);
}

SlowListProxy::~SlowListProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& relay : relays_) relay.join();
  ::unlink(path_.c_str());
}

void SlowListProxy::acceptLoop() {
  while (!stopping_) {
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    std::lock_guard<std::mutex> lock(relays_mutex_);
    relays_.emplace_back(&SlowListProxy::relay, this, client);
  }
}

void SlowListProxy::relay(int client) {
  const int engine = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un address = unixAddress(upstream_);
  if (::connect(engine, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(engine);
    ::close(client);
    return;
  }

  bool delay_answer = false;
  char buffer[65536];
  pollfd fds[2] = {{client, POLLIN, 0}, {engine, POLLIN, 0}};
  while (::poll(fds, 2, 30000) > 0) {
    if (fds[0].revents != 0) {
      const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      // The request line of a list call: "GET /v1.41/containers/json?...".
      const std::string request(buffer, static_cast<std::size_t>(got));
      if (request.rfind("GET ", 0) == 0 && request.find("/containers/json") != std::string::npos) {
        delay_answer = true;
      }
      if (!sendAll(engine, buffer, static_cast<std::size_t>(got))) break;
    }
    if (fds[1].revents != 0) {
      const ssize_t got = ::recv(engine, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      if (delay_answer) {
        std::this_thread::sleep_for(delay_);
        delay_answer = false;
      }
      if (!sendAll(client, buffer, static_cast<std::size_t>(got))) break;
    }
  }
  ::close(engine);
  ::close(client);
}

}  // namespace berth::testing
