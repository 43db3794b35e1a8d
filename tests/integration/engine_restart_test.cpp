// dockerd restarted while sessions are live. This test stops and starts the
// machine's real dockerd, so `make test` runs it after every other test.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Stops the running dockerd and starts it again with the same command line.
// The destructor starts it again if a failed test left it stopped.
class EngineRestarter {
 public:
  EngineRestarter() {
    std::ifstream pid_file("/var/run/docker.pid");
    pid_file >> pid_;
    if (pid_ <= 0 || !processAlive(pid_)) {
      throw std::runtime_error("no dockerd pid in /var/run/docker.pid");
    }
    std::ifstream cmdline("/proc/" + std::to_string(pid_) + "/cmdline");
    std::string arg;
    while (std::getline(cmdline, arg, '\0')) argv_.push_back(arg);
  }

  ~EngineRestarter() {
    if (stopped_) start();
  }

  void stop() {
    ::kill(pid_, SIGTERM);
    stopped_ = true;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (processAlive(pid_) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (processAlive(pid_)) throw std::runtime_error("dockerd did not stop within 60 s");
  }

  void start() {
    const pid_t child = ::fork();
    if (child == 0) {
      ::setsid();
      const int log = ::open("/var/log/berth-dockerd.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      std::vector<char*> args;
      for (auto& arg : argv_) args.push_back(arg.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
    stopped_ = false;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      try {
        docker::Client client(docker::ClientOptions{});
        client.ping();
        std::ifstream pid_file("/var/run/docker.pid");
        pid_file >> pid_;
        return;
      } catch (const docker::Error&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    throw std::runtime_error("dockerd did not answer within 60 s of its restart");
  }

 private:
  pid_t pid_ = 0;
  std::vector<std::string> argv_;
  bool stopped_ = false;
};

HttpResponse waitForStatus(const std::string& url, long status) {
  HttpResponse response;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    response = http("GET", url);
    if (response.status == status) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return response;
}

TEST(IntegrationEngineRestart, PoolAnswers503ThenRecovers) {
  Stack stack;
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200) << alice.body;
  const std::string first_id = stringMember(parseJson(alice.body), "container");

  EngineRestarter engine;
  engine.stop();

  const HttpResponse health = waitForStatus(stack.url("/healthz"), 503);
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(stringMember(parseJson(health.body), "type"), "urn:berth:problem:engine-unavailable");
  const HttpResponse bob = login(stack, "bob", "bob-pass");
  EXPECT_EQ(bob.status, 503) << bob.body;
  EXPECT_EQ(stringMember(parseJson(bob.body), "type"), "urn:berth:problem:engine-unavailable");

  engine.start();
  EXPECT_EQ(waitForStatus(stack.url("/healthz"), 200).status, 200);

  // Without live-restore, the restart stopped alice's container: the sweep
  // drops her session and removes the container.
  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_NE(output.find("sessions_dropped=1"), std::string::npos) << output;
  EXPECT_TRUE(stack.containers().empty());
  EXPECT_EQ(getSession(stack, alice.sessionCookie()).status, 401);

  const HttpResponse again = login(stack, "alice", "alice-pass");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_NE(stringMember(parseJson(again.body), "container"), first_id);
}

}  // namespace
}  // namespace berth::testing
