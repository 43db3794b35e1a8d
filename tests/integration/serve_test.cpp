// The pool's process life: a second pool on the same socket, stopping with
// logins in flight, and a master that dies.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

ino_t inodeOf(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

// Returns true while the process exists and is not a zombie.
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::vector<pid_t> childrenOf(pid_t parent) {
  std::vector<pid_t> children;
  std::ifstream list("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) +
                     "/children");
  pid_t pid = 0;
  while (list >> pid) children.push_back(pid);
  return children;
}

TEST(IntegrationServe, SecondPoolOnSameSocketRejected) {
  Stack stack;
  const std::string socket = stack.dir() + "/berth.sock";
  const ino_t before = inodeOf(socket);
  ASSERT_NE(before, 0u);

  // Same listen path, another segment and port range.
  const std::string other_config = stack.dir() + "/other.conf";
  std::ofstream(other_config) << "listen = " << socket << "\n"
                              << "segment = " << stack.segment() << "-other\n"
                              << "htpasswd = " << stack.dir() << "/htpasswd\n"
                              << "port_min = " << stack.portMax() + 1 << "\n"
                              << "port_max = " << stack.portMax() + 5 << "\n";
  const std::string output_path = stack.dir() + "/other.log";
  const int status =
      shell(std::string(std::getenv("BERTH_BINARY") ? std::getenv("BERTH_BINARY") : "build/berth") +
            " serve --config " + other_config + " >" + output_path + " 2>&1");
  std::ifstream output_file(output_path);
  const std::string output((std::istreambuf_iterator<char>(output_file)),
                           std::istreambuf_iterator<char>());

  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("another process listens on " + socket), std::string::npos) << output;
  EXPECT_EQ(inodeOf(socket), before);
  EXPECT_EQ(::access(("/dev/shm/" + stack.segment() + "-other").c_str(), F_OK), -1);
  EXPECT_EQ(http("GET", stack.url("/healthz")).status, 200);
}

TEST(IntegrationServe, StopDuringLoginsLeavesNoContainer) {
  StackOptions options;
  options.users.clear();
  for (int i = 0; i < 10; ++i) options.users.push_back({"stop" + std::to_string(i), "pass"});
  Stack stack(options);

  std::vector<std::thread> logins;
  for (const auto& user : options.users) {
    logins.emplace_back([&stack, name = user.name] { login(stack, name, "pass"); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const int status = stack.stopBerth(SIGTERM);
  for (auto& thread : logins) thread.join();

  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(stack.containers().empty());
  EXPECT_EQ(::access(("/dev/shm/" + stack.segment()).c_str(), F_OK), -1);
  EXPECT_EQ(::access((stack.dir() + "/berth.sock").c_str(), F_OK), -1);
}

TEST(IntegrationServe, WorkersExitWhenMasterDies) {
  Stack stack;
  const std::vector<pid_t> workers = childrenOf(stack.berthPid());
  ASSERT_FALSE(workers.empty());

  stack.stopBerth(SIGKILL);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  bool any_running = true;
  while (any_running && Clock::now() < deadline) {
    any_running = false;
    for (pid_t worker : workers) any_running = any_running || running(worker);
    if (any_running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(any_running);
}

}  // namespace
}  // namespace berth::testing
