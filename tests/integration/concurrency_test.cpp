// Simultaneous logins against a real pool and dockerd.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

TEST(IntegrationConcurrency, TwentyUsersGetTwentyPorts) {
  constexpr int kUsers = 20;
  StackOptions options;
  options.users.clear();
  for (int i = 0; i < kUsers; ++i) {
    options.users.push_back({"user" + std::to_string(i), "pass-" + std::to_string(i)});
  }
  options.threads = 12;
  Stack stack(options);

  std::vector<HttpResponse> responses(kUsers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kUsers; ++i) {
    threads.emplace_back(
        [&, i] { responses[i] = login(stack, options.users[i].name, options.users[i].password); });
  }
  for (auto& thread : threads) thread.join();

  std::set<unsigned> ports;
  std::set<std::string> containers;
  for (int i = 0; i < kUsers; ++i) {
    ASSERT_EQ(responses[i].status, 200)
        << "user" << i << ": " << responses[i].body << responses[i].error;
    const auto body = parseJson(responses[i].body);
    EXPECT_EQ(stringMember(body, "user"), options.users[i].name);
    ports.insert(uintMember(body, "port"));
    containers.insert(stringMember(body, "container"));
  }
  EXPECT_EQ(ports.size(), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(containers.size(), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(stack.containers().size(), static_cast<std::size_t>(kUsers));
}

TEST(IntegrationConcurrency, FiveLoginsOfOneUserShareOneContainer) {
  constexpr int kLogins = 5;
  Stack stack;

  std::vector<HttpResponse> responses(kLogins);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLogins; ++i) {
    threads.emplace_back([&, i] { responses[i] = login(stack, "alice", "alice-pass"); });
  }
  for (auto& thread : threads) thread.join();

  std::set<unsigned> ports;
  std::set<std::string> containers;
  for (const auto& response : responses) {
    ASSERT_EQ(response.status, 200) << response.body << response.error;
    const auto body = parseJson(response.body);
    ports.insert(uintMember(body, "port"));
    containers.insert(stringMember(body, "container"));
  }
  EXPECT_EQ(ports.size(), 1u);
  EXPECT_EQ(containers.size(), 1u);
  EXPECT_EQ(stack.containers().size(), 1u);
}

// A plain TCP listener on 127.0.0.1:port, closed on scope exit.
class Listener {
 public:
  explicit Listener(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
             ::listen(fd_, 1) == 0;
  }
  ~Listener() { ::close(fd_); }
  bool bound() const { return bound_; }

 private:
  int fd_;
  bool bound_ = false;
};

TEST(IntegrationPorts, ForeignListenerPortIsSkipped) {
  constexpr int kHeld = 20;
  Stack stack;
  std::vector<std::unique_ptr<Listener>> held;
  for (int i = 0; i < kHeld; ++i) {
    held.push_back(std::make_unique<Listener>(static_cast<std::uint16_t>(stack.portMin() + i)));
    ASSERT_TRUE(held.back()->bound()) << "port " << stack.portMin() + i;
  }

  const HttpResponse response = login(stack, "alice", "alice-pass");
  ASSERT_EQ(response.status, 200) << response.body;
  const unsigned port = uintMember(parseJson(response.body), "port");
  EXPECT_EQ(port, stack.portMin() + static_cast<unsigned>(kHeld));
  EXPECT_LE(port, stack.portMax());
  EXPECT_EQ(http("GET", stringMember(parseJson(response.body), "url")).status, 200);
}

TEST(IntegrationPorts, EngineRejectedPortIsReplaced) {
  const std::string library = faultLibrary();
  ASSERT_EQ(::access(library.c_str(), R_OK), 0) << library << " is missing; run make test";
  StackOptions options;
  // berth's probe finds every port free, so Docker itself refuses the ports
  // that another process holds, as when a process takes a port between the
  // probe and the start.
  options.berth_environment = {"LD_PRELOAD=" + library, "BERTH_TEST_PROBE_SEES_FREE=1"};
  Stack stack(options);
  Listener first(stack.portMin());
  Listener second(static_cast<std::uint16_t>(stack.portMin() + 1));
  ASSERT_TRUE(first.bound());
  ASSERT_TRUE(second.bound());

  const HttpResponse response = login(stack, "alice", "alice-pass");
  ASSERT_EQ(response.status, 200) << response.body;
  const unsigned port = uintMember(parseJson(response.body), "port");
  EXPECT_EQ(port, stack.portMin() + 2u);
  EXPECT_EQ(http("GET", stringMember(parseJson(response.body), "url")).status, 200);

  // Each refused start removed its half-made container.
  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].host_port, port);
  EXPECT_NE(stack.berthLog().find("engine rejected the port binding"), std::string::npos)
      << stack.berthLog();
}

}  // namespace
}  // namespace berth::testing
