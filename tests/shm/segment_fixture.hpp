#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "shm/layout.hpp"
#include "shm/segment.hpp"

namespace berth::shm::testing {

// How long a test waits for a lock or a child process before it reports a
// hang. Passing tests never come near it.
inline constexpr std::chrono::seconds kHangLimit{20};

// Returns a segment name that no other test and no other test run uses.
inline std::string uniqueSegmentName() {
  static std::atomic<int> counter{0};
  return "berth-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

// Gives each test its own segment name over ports 8000-8009, and removes the
// segment after the test even when the test failed.
class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.name = uniqueSegmentName();
    options_.port_min = 8000;
    options_.port_max = 8009;
  }

  void TearDown() override { Segment::remove(options_.name); }

  std::string devicePath() const { return "/dev/shm/" + options_.name; }

  SegmentOptions options_;
};

// A second mapping of a segment's bytes, for tests that write below the API.
class RawMapping {
 public:
  explicit RawMapping(const std::string& name)
      : object_(boost::interprocess::open_only, name.c_str(), boost::interprocess::read_write),
        region_(object_, boost::interprocess::read_write) {}

  layout::Header& header() { return *static_cast<layout::Header*>(region_.get_address()); }
  layout::View view() { return layout::makeView(region_.get_address(), header().capacity); }

 private:
  boost::interprocess::shared_memory_object object_;
  boost::interprocess::mapped_region region_;
};

// Forks a child that runs `body` and exits with its result, 2 when it throws.
// The child never returns into the test framework.
inline pid_t forkChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid != 0) return pid;

  int code = 2;
  try {
    code = body();
  } catch (...) {
  }
  _exit(code);
}

// Waits for a child at most kHangLimit and returns its wait status. A child
// still running then is killed, and nullopt is returned.
inline std::optional<int> waitForChild(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + kHangLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

// Returns true when the child exited by itself with status 0.
inline bool childSucceeded(pid_t pid) {
  std::optional<int> status = waitForChild(pid);
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// Runs `work` on a thread of its own and waits for it at most kHangLimit.
// Returns nullopt when it is still running then, most likely because it is
// blocked on a lock that a dead process holds. That thread is left behind
// detached, so the caller must keep alive whatever it uses (see leak()).
template <typename Result>
std::optional<Result> runBounded(std::function<Result()> work) {
  auto task = std::make_shared<std::packaged_task<Result()>>(std::move(work));
  std::future<Result> result = task->get_future();
  std::thread([task] { (*task)(); }).detach();

  if (result.wait_for(kHangLimit) != std::future_status::ready) return std::nullopt;
  return result.get();
}

// Keeps the segment mapped for the rest of the test run, for a thread that
// runBounded() left blocked on its lock.
inline void leak(std::unique_ptr<Segment>& segment) { static_cast<void>(segment.release()); }

}  // namespace berth::shm::testing
