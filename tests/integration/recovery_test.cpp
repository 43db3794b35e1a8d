// Crash recovery of the pool: processes killed while holding the lock or in
// the middle of a spawn, against a real pool and dockerd.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "shm/segment.hpp"
#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<shm::Segment> openSegment(const Stack& stack) {
  return shm::Segment::open({stack.segment(), stack.portMin(), stack.portMax()});
}

// The pids of the master's children: its workers.
std::vector<pid_t> workerPids(pid_t master) {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  while (dirent* entry = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    pid_t parent = 0;
    std::istringstream(line.substr(close + 2)) >> state >> parent;
    if (parent == master) pids.push_back(pid);
  }
  ::closedir(proc);
  return pids;
}

// Checks that every container of the pool belongs to one session and that
// sessions hold distinct ports.
void expectPoolMatchesSessions(const Stack& stack, shm::Segment& segment) {
  EXPECT_TRUE(segment.consistencyProblems().empty());
  std::set<std::string> session_containers;
  std::set<unsigned> ports;
  const auto sessions = segment.list();
  for (const auto& session : sessions) {
    EXPECT_EQ(session.state, shm::State::Running) << session.user;
    session_containers.insert(session.container_id);
    ports.insert(session.port);
  }
  EXPECT_EQ(ports.size(), sessions.size());
  std::set<std::string> pool_containers;
  for (const auto& container : stack.containers()) pool_containers.insert(container.id);
  EXPECT_EQ(pool_containers, session_containers);
}

std::string readFileText(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A temporary folder removed with its files on scope exit.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/berth-hold-lock-XXXXXX";
    if (::mkdtemp(name) != nullptr) path_ = name;
  }
  ~TempDir() {
    if (!path_.empty()) shell("rm -rf '" + path_ + "'");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(IntegrationRecovery, WorkerKilledHoldingLockPoolStillServes) {
  const std::string library = faultLibrary();
  ASSERT_EQ(::access(library.c_str(), R_OK), 0) << library << " is missing; run make test";
  TempDir trigger_dir;
  ASSERT_FALSE(trigger_dir.path().empty());
  const std::string trigger = trigger_dir.path() + "/hold-lock";

  StackOptions options;
  options.users.push_back({"carol", "carol-pass"});
  options.berth_environment = {"LD_PRELOAD=" + library, "BERTH_TEST_HOLD_LOCK=" + trigger};
  Stack stack(options);
  ASSERT_EQ(login(stack, "alice", "alice-pass").status, 200);
  auto segment = openSegment(stack);
  const auto recoveries_before = segment->recoveries();

  // With the trigger file present, the next unlock in any worker becomes a
  // hold: bob's login takes the lock in some worker, which then keeps it.
  { std::ofstream(trigger) << "hold\n"; }
  HttpResponse bob;
  std::thread request([&] { bob = login(stack, "bob", "bob-pass"); });
  pid_t holder = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (holder == 0 && Clock::now() < deadline) {
    holder = static_cast<pid_t>(std::atoi(readFileText(trigger + ".pid").c_str()));
    if (holder == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto workers = workerPids(stack.berthPid());
  const bool holder_is_worker = std::find(workers.begin(), workers.end(), holder) != workers.end();
  if (holder > 0) ::kill(holder, SIGKILL);
  request.join();
  ASSERT_GT(holder, 0) << "no worker kept the lock";
  EXPECT_TRUE(holder_is_worker) << "pid " << holder << " is not a worker of the pool";

  // The next request is served and the tables are consistent.
  const HttpResponse carol = login(stack, "carol", "carol-pass");
  EXPECT_EQ(carol.status, 200) << carol.body << carol.error;
  EXPECT_EQ(segment->recoveries(), recoveries_before + 1);
  EXPECT_TRUE(segment->consistencyProblems().empty());
  EXPECT_EQ(http("GET", stack.url("/healthz")).status, 200);

  // Bob's login died with the worker; a sweep reclaims what it left.
  EXPECT_EQ(stack.runBerth("sweep"), 0);
  expectPoolMatchesSessions(stack, *segment);
}

TEST(IntegrationRecovery, LockHolderKilledPoolStillServes) {
  Stack stack;
  ASSERT_EQ(login(stack, "alice", "alice-pass").status, 200);
  auto segment = openSegment(stack);
  const auto recoveries_before = segment->recoveries();

  // A process of the pool takes the lock and is killed while holding it.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    auto guard = segment->lock();
    const char byte = 1;
    [[maybe_unused]] auto written = ::write(ready[1], &byte, 1);
    ::pause();
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);

  // The next request is served and the tables are consistent.
  const HttpResponse bob = login(stack, "bob", "bob-pass");
  EXPECT_EQ(bob.status, 200) << bob.body << bob.error;
  EXPECT_EQ(segment->recoveries(), recoveries_before + 1);
  expectPoolMatchesSessions(stack, *segment);
  EXPECT_EQ(segment->list().size(), 2u);
}

// Starts a login for alice, kills the worker that owns the start once
// `ready(session)` holds, runs a sweep, and checks that nothing is left.
template <typename Ready>
void killMidSpawnThenSweep(Ready ready) {
  Stack stack;
  auto segment = openSegment(stack);

  HttpResponse response;
  std::thread request([&] { response = login(stack, "alice", "alice-pass"); });

  pid_t owner = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (owner == 0 && Clock::now() < deadline) {
    const auto session = segment->findByUser("alice");
    if (session && session->state == shm::State::Starting && ready(*session)) {
      owner = session->owner_pid;
    }
  }
  if (owner > 0) ::kill(owner, SIGKILL);
  request.join();
  ASSERT_GT(owner, 0) << "never saw alice's start in the wanted phase";
  EXPECT_NE(response.status, 200) << response.body;

  EXPECT_EQ(stack.runBerth("sweep"), 0);
  EXPECT_FALSE(segment->findByUser("alice").has_value());
  EXPECT_TRUE(segment->list().empty());
  EXPECT_TRUE(stack.containers().empty());
  EXPECT_TRUE(segment->consistencyProblems().empty());

  // The master replaced the worker and the pool serves.
  const HttpResponse bob = login(stack, "bob", "bob-pass");
  EXPECT_EQ(bob.status, 200) << bob.body << bob.error;
}

TEST(IntegrationRecovery, WorkerKilledBeforeCreateLeavesNothing) {
  killMidSpawnThenSweep([](const shm::Session&) { return true; });
}

TEST(IntegrationRecovery, WorkerKilledAfterCreateLeavesNothing) {
  killMidSpawnThenSweep([](const shm::Session& session) { return !session.container_id.empty(); });
}

TEST(IntegrationRecovery, WorkersKilledUnderLoadLeaveConsistentState) {
  StackOptions options;
  options.users.clear();
  for (int i = 0; i < 6; ++i) options.users.push_back({"load" + std::to_string(i), "pass"});
  Stack stack(options);
  auto segment = openSegment(stack);

  // Six users log in and out in a loop while workers are killed at random.
  std::atomic<bool> stop{false};
  std::vector<std::thread> users;
  for (const auto& user : options.users) {
    users.emplace_back([&, name = user.name] {
      while (!stop) {
        const HttpResponse in = login(stack, name, "pass");
        if (in.status == 200) {
          http("POST", stack.url("/logout"), "", {"Cookie: berth_session=" + in.sessionCookie()});
        }
      }
    });
  }
  std::mt19937 random(42);
  for (int round = 0; round < 8; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto workers = workerPids(stack.berthPid());
    if (!workers.empty()) ::kill(workers[random() % workers.size()], SIGKILL);
  }
  stop = true;
  for (auto& user : users) user.join();

  // The pool serves, and after a sweep every container has its session.
  const HttpResponse after = login(stack, "load0", "pass");
  EXPECT_EQ(after.status, 200) << after.body << after.error;
  EXPECT_EQ(stack.runBerth("sweep"), 0);
  expectPoolMatchesSessions(stack, *segment);
}

}  // namespace
}  // namespace berth::testing
