#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::testing {

// A unix-socket proxy in front of the real Docker socket that delays the
// engine's response to each container list call by `delay`. It stands in for
// a busy engine, because the real one cannot be slowed on demand, so that a
// test can run a login inside a sweep's list call. Every other call passes
// through unchanged.
class SlowListProxy {
 public:
  SlowListProxy(std::string path, std::chrono::milliseconds delay,
                std::string upstream = "/var/run/docker.sock");
  ~SlowListProxy();
  SlowListProxy(const SlowListProxy&) = delete;
  SlowListProxy& operator=(const SlowListProxy&) = delete;

  const std::string& path() const { return path_; }

 private:
  void acceptLoop();
  void relay(int client);

  std::string path_;
  std::chrono::milliseconds delay_;
  std::string upstream_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex relays_mutex_;
  std::vector<std::thread> relays_;
};

}  // namespace berth::testing
