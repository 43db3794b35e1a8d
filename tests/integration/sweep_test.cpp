// The sweep against a real pool and dockerd: containers lost out of band,
// a lost segment, idle and lifetime reaping, and containers berth must not
// touch.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "lifecycle/probe.hpp"
#include "shm/segment.hpp"
#include "tests/support/json.hpp"
#include "tests/support/slow_list_proxy.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(IntegrationSweep, ContainerRemovedOutOfBandDropsSession) {
  Stack stack;
  const HttpResponse first = login(stack, "alice", "alice-pass");
  ASSERT_EQ(first.status, 200) << first.body;
  const auto body = parseJson(first.body);
  const std::string first_id = stringMember(body, "container");
  const auto port = static_cast<std::uint16_t>(uintMember(body, "port"));

  testDocker().remove(first_id);
  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "sessions_dropped=1")) << output;

  const std::string auth = "Authorization: Bearer " + stack.adminToken();
  EXPECT_EQ(http("GET", stack.url("/api/containers/alice"), "", {auth}).status, 404);
  EXPECT_TRUE(lifecycle::portFree("127.0.0.1", port));
  EXPECT_EQ(getSession(stack, first.sessionCookie()).status, 401);

  const HttpResponse second = login(stack, "alice", "alice-pass");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(stringMember(parseJson(second.body), "container"), first_id);
  EXPECT_EQ(stack.containers().size(), 1u);
}

TEST(IntegrationSweep, LoginDuringListCallKeepsSession) {
  Stack stack;

  // The sweep talks to the engine through a proxy that delays the response
  // to its list call, and alice logs in while it waits.
  SlowListProxy proxy(stack.dir() + "/slow-engine.sock", std::chrono::milliseconds(3000));
  const std::string slow_config = stack.dir() + "/slow.conf";
  {
    std::ifstream original(stack.configPath());
    std::ofstream copy(slow_config);
    copy << original.rdbuf() << "docker_socket = " << proxy.path() << "\n";
  }
  const char* binary = std::getenv("BERTH_BINARY");
  int sweep_status = -1;
  std::thread sweep([&] {
    sweep_status =
        shell(std::string(binary != nullptr ? binary : "build/berth") + " sweep --config " +
              slow_config + " >" + stack.dir() + "/slow-sweep.log 2>&1");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  sweep.join();
  std::ifstream log_file(stack.dir() + "/slow-sweep.log");
  const std::string output((std::istreambuf_iterator<char>(log_file)),
                           std::istreambuf_iterator<char>());

  ASSERT_EQ(alice.status, 200) << alice.body;
  EXPECT_EQ(sweep_status, 0) << output;
  EXPECT_TRUE(contains(output, "containers=0 sessions=1")) << output;
  EXPECT_TRUE(contains(output, "sessions_dropped=0")) << output;
  EXPECT_EQ(getSession(stack, alice.sessionCookie()).status, 200);
  EXPECT_EQ(stack.containers().size(), 1u);
}

TEST(IntegrationSweep, LostSegmentMakesEveryContainerAnOrphan) {
  Stack stack;
  ASSERT_EQ(login(stack, "alice", "alice-pass").status, 200);
  ASSERT_EQ(login(stack, "bob", "bob-pass").status, 200);
  ASSERT_EQ(stack.containers().size(), 2u);

  // The master is stopped so that only the sweep can act on the loss.
  ASSERT_EQ(::kill(stack.berthPid(), SIGSTOP), 0);
  ASSERT_EQ(::unlink(("/dev/shm/" + stack.segment()).c_str()), 0);
  std::string dry_output;
  EXPECT_EQ(stack.runBerth("sweep --dry-run", &dry_output), 0);
  EXPECT_TRUE(contains(dry_output, "would remove orphan")) << dry_output;
  EXPECT_EQ(stack.containers().size(), 2u);

  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "orphans_removed=2")) << output;
  EXPECT_TRUE(stack.containers().empty());
  ASSERT_EQ(::kill(stack.berthPid(), SIGCONT), 0);

  // The master notices, starts over with a new segment, and serves again.
  HttpResponse health;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    health = http("GET", stack.url("/healthz"));
    if (health.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(login(stack, "alice", "alice-pass").status, 200);
}

TEST(IntegrationSweep, IdleSessionReapedActiveSessionKept) {
  StackOptions options;
  options.extra_config = "idle_timeout = 2\n";
  Stack stack(options);
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  const HttpResponse bob = login(stack, "bob", "bob-pass");
  ASSERT_EQ(alice.status, 200);
  ASSERT_EQ(bob.status, 200);

  // Bob keeps making requests; alice makes none.
  const auto until = Clock::now() + std::chrono::milliseconds(3500);
  while (Clock::now() < until) {
    EXPECT_EQ(getSession(stack, bob.sessionCookie()).status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  std::string dry_output;
  EXPECT_EQ(stack.runBerth("sweep --dry-run", &dry_output), 0);
  EXPECT_TRUE(contains(dry_output, "idle_reaped=1")) << dry_output;
  EXPECT_EQ(stack.containers().size(), 2u);

  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "idle_reaped=1")) << output;
  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].labels.at("io.berth.user"), "bob");
  EXPECT_EQ(getSession(stack, alice.sessionCookie()).status, 401);
}

TEST(IntegrationSweep, OpenWorkspaceConnectionKeepsSession) {
  StackOptions options;
  options.extra_config = "idle_timeout = 2\n";
  Stack stack(options);
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200);
  const auto port = static_cast<std::uint16_t>(uintMember(parseJson(alice.body), "port"));

  // Alice works in her workspace: a connection to its port stays open, as
  // shellinabox's long poll keeps one, but she sends berth no request.
  const int connection = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  ASSERT_EQ(::connect(connection, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));

  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "idle_reaped=0")) << output;
  EXPECT_EQ(stack.containers().size(), 1u);
  ::close(connection);

  // Without the connection, the session is idle again after idle_timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "idle_reaped=1")) << output;
  EXPECT_TRUE(stack.containers().empty());
}

TEST(IntegrationSweep, SessionPastMaxLifetimeReaped) {
  StackOptions options;
  options.extra_config = "max_lifetime = 2\n";
  Stack stack(options);
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200);

  // Active, but older than max_lifetime.
  const auto until = Clock::now() + std::chrono::milliseconds(3500);
  while (Clock::now() < until) {
    getSession(stack, alice.sessionCookie());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  // Before the sweep, the expired session is refused already.
  const HttpResponse expired = getSession(stack, alice.sessionCookie());
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(stringMember(parseJson(expired.body), "type"), "urn:berth:problem:session-expired");

  std::string output;
  EXPECT_EQ(stack.runBerth("sweep", &output), 0);
  EXPECT_TRUE(contains(output, "expired_reaped=1")) << output;
  EXPECT_TRUE(stack.containers().empty());
}

// Removes the named containers on scope exit.
class ForeignContainers {
 public:
  ~ForeignContainers() {
    for (const auto& id : ids_) {
      try {
        testDocker().remove(id);
      } catch (const std::exception&) {
      }
    }
  }
  std::string create(const std::string& name, std::map<std::string, std::string> labels) {
    docker::ContainerSpec spec;
    spec.name = name;
    spec.image = "berth/workspace:latest";
    spec.labels = std::move(labels);
    spec.labels["io.berth.test"] = "foreign";
    ids_.push_back(testDocker().create(spec));
    testDocker().start(ids_.back());
    return ids_.back();
  }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  std::vector<std::string> ids_;
};

TEST(IntegrationSweep, ContainersWithoutPoolLabelsUntouched) {
  ForeignContainers foreign;
  const std::string suffix = std::to_string(::getpid());
  {
    Stack stack;
    foreign.create("berth-test-unlabelled-" + suffix, {});
    foreign.create("berth-test-other-pool-" + suffix,
                   {{"io.berth.managed", "true"}, {"io.berth.pool", "other-" + suffix}});
    // A container with the name berth gives alice's workspace.
    foreign.create("berth_" + stack.segment() + "_alice", {});

    const HttpResponse alice = login(stack, "alice", "alice-pass");
    EXPECT_EQ(alice.status, 409) << alice.body;
    EXPECT_TRUE(contains(alice.body, "does not manage")) << alice.body;

    EXPECT_EQ(stack.runBerth("sweep"), 0);
    ::unlink(("/dev/shm/" + stack.segment()).c_str());
    EXPECT_EQ(stack.runBerth("sweep"), 0);
  }

  // The pool has stopped, after a sweep with a live and with a lost segment.
  for (const auto& id : foreign.ids()) {
    EXPECT_EQ(testDocker().inspect(id).state, "running") << id;
  }
}

}  // namespace
}  // namespace berth::testing
