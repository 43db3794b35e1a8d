#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "shm/segment.hpp"
#include "tests/shm/segment_fixture.hpp"

namespace berth::shm {
namespace {

using testing::childSucceeded;
using testing::forkChild;
using testing::leak;
using testing::RawMapping;
using testing::runBounded;
using testing::SegmentTest;

constexpr pid_t kPid = 4242;
constexpr std::int64_t kNow = 1'700'000'000;

class LockRecovery : public SegmentTest {
 protected:
  // Forks a child that takes the lock, runs `while_locked` and exits without
  // unlocking. Returns false when the child failed or hung.
  bool dieHoldingLock(const std::function<void()>& while_locked = [] {}) {
    pid_t child = forkChild([&] {
      Segment::Guard guard = segment_->lock();
      while_locked();
      _exit(0);
      return 0;
    });
    return childSucceeded(child);
  }

  // Runs `work` with the hang limit. On a hang the test fails, and the segment
  // stays mapped for the blocked thread.
  template <typename Result>
  std::optional<Result> bounded(std::function<Result()> work) {
    std::optional<Result> result = runBounded(std::move(work));
    if (!result) {
      ADD_FAILURE() << "still waiting for the lock of " << options_.name << " after "
                    << testing::kHangLimit.count() << " s";
      leak(segment_);
    }
    return result;
  }

  std::unique_ptr<Segment> segment_;
};

TEST_F(LockRecovery, ExitedHolderDoesNotWedgeLock) {
  segment_ = Segment::create(options_);
  ASSERT_TRUE(dieHoldingLock());

  std::optional<Claim> claim =
      bounded<Claim>([this] { return segment_->claim("alice", kPid, kNow); });
  ASSERT_TRUE(claim);

  EXPECT_TRUE(claim->created);
  EXPECT_EQ(claim->session.port, 8000);
  EXPECT_EQ(segment_->list().size(), 1u);
  EXPECT_EQ(segment_->recoveries(), 1u);
  EXPECT_TRUE(segment_->consistencyProblems().empty());
  EXPECT_EQ(segment_->recoveries(), 1u);
}

TEST_F(LockRecovery, KilledHolderDoesNotWedgeLock) {
  segment_ = Segment::create(options_);
  segment_->claim("alice", kPid, kNow);
  int locked[2];
  ASSERT_EQ(pipe(locked), 0);

  pid_t child = forkChild([&] {
    Segment::Guard guard = segment_->lock();
    static_cast<void>(write(locked[1], "L", 1));
    pause();
    return 0;
  });
  close(locked[1]);

  pollfd ready{locked[0], POLLIN, 0};
  int polled = poll(&ready, 1, static_cast<int>(testing::kHangLimit.count() * 1000));
  close(locked[0]);
  kill(child, SIGKILL);
  testing::waitForChild(child);
  ASSERT_EQ(polled, 1) << "the child never took the lock";

  std::optional<std::vector<Session>> sessions =
      bounded<std::vector<Session>>([this] { return segment_->list(); });
  ASSERT_TRUE(sessions);

  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ((*sessions)[0].user, "alice");
  EXPECT_EQ(segment_->recoveries(), 1u);
  EXPECT_TRUE(segment_->consistencyProblems().empty());
}

TEST_F(LockRecovery, HolderDyingAfterClaimKeepsSession) {
  segment_ = Segment::create(options_);

  pid_t child = forkChild([this] {
    Claim claim = segment_->claim("bob", getpid(), kNow);
    Segment::Guard guard = segment_->lock();
    _exit(claim.created ? 0 : 1);
    return 0;
  });
  ASSERT_TRUE(childSucceeded(child));

  std::optional<Claim> claim =
      bounded<Claim>([this] { return segment_->claim("bob", kPid, kNow); });
  ASSERT_TRUE(claim);

  EXPECT_FALSE(claim->created);
  EXPECT_EQ(claim->session.owner_pid, child);
  EXPECT_EQ(claim->session.port, 8000);
  EXPECT_EQ(segment_->claim("carol", kPid, kNow).session.port, 8001);
  EXPECT_EQ(segment_->recoveries(), 1u);
  EXPECT_TRUE(segment_->consistencyProblems().empty());
}

// The child leaves behind, while holding the lock, what a holder dying in the
// middle of movePort(), release() or a corrupting bug would leave.
TEST_F(LockRecovery, RepairsHalfWrittenTables) {
  segment_ = Segment::create(options_);
  Session alice = segment_->claim("alice", kPid, kNow).session;
  segment_->setContainer(alice.slot, alice.generation, "c-alice");
  segment_->markRunning(alice.slot, alice.generation);
  TokenHash alice_token{};
  alice_token.fill(1);
  segment_->addToken(alice.slot, alice.generation, alice_token);
  Session bob = segment_->claim("bob", kPid, kNow).session;
  segment_->setContainer(bob.slot, bob.generation, "c-bob");
  Session carol = segment_->claim("carol", kPid, kNow).session;
  Session dave = segment_->claim("dave", kPid, kNow).session;

  ASSERT_TRUE(dieHoldingLock([this] {
    RawMapping raw(options_.name);
    layout::View view = raw.view();
    view.ports[5].owner = 1;
    view.slots[1].port = 8000;
    view.slots[2].port = 9000;
    view.slots[3].state = static_cast<std::uint8_t>(State::Free);
  }));

  std::optional<std::vector<Session>> sessions =
      bounded<std::vector<Session>>([this] { return segment_->list(); });
  ASSERT_TRUE(sessions);

  ASSERT_EQ(sessions->size(), 2u);
  EXPECT_EQ((*sessions)[0].user, "alice");
  EXPECT_EQ((*sessions)[0].state, State::Running);
  EXPECT_EQ((*sessions)[0].port, 8000);
  EXPECT_EQ((*sessions)[1].user, "bob");
  EXPECT_EQ((*sessions)[1].state, State::Stopping);
  EXPECT_EQ((*sessions)[1].port, 0);
  EXPECT_FALSE(segment_->get(carol.slot, carol.generation));
  EXPECT_FALSE(segment_->get(dave.slot, dave.generation));
  EXPECT_TRUE(segment_->findByToken(alice_token, kNow));
  EXPECT_EQ(segment_->recoveries(), 1u);
  EXPECT_TRUE(segment_->consistencyProblems().empty());

  EXPECT_EQ(segment_->claim("erin", kPid, kNow).session.port, 8001);
  EXPECT_EQ(segment_->claim("frank", kPid, kNow).session.port, 8002);
  EXPECT_EQ(segment_->claim("grace", kPid, kNow).session.port, 8003);
  EXPECT_EQ(segment_->claim("heidi", kPid, kNow).session.port, 8004);
  EXPECT_EQ(segment_->claim("ivan", kPid, kNow).session.port, 8005);
}

TEST_F(LockRecovery, ProblemsListedUntilRepaired) {
  segment_ = Segment::create(options_);
  Session alice = segment_->claim("alice", kPid, kNow).session;
  RawMapping raw(options_.name);
  layout::View view = raw.view();

  view.ports[5].owner = alice.slot + 1;
  view.slots[alice.slot].state = 9;

  std::vector<std::string> problems = segment_->consistencyProblems();
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("invalid state 9"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("port 8000 to slot 0"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("port 8005 to slot 0"), std::string::npos) << problems[2];

  ASSERT_TRUE(dieHoldingLock());
  std::optional<std::vector<std::string>> repaired =
      bounded<std::vector<std::string>>([this] { return segment_->consistencyProblems(); });
  ASSERT_TRUE(repaired);
  EXPECT_TRUE(repaired->empty());
  EXPECT_TRUE(segment_->list().empty());
}

TEST_F(LockRecovery, UnrecoverableLockThrows) {
  segment_ = Segment::create(options_);
  ASSERT_TRUE(dieHoldingLock());

  // Take the lock as a careless process would: see the dead holder, then
  // unlock without pthread_mutex_consistent().
  RawMapping raw(options_.name);
  pthread_mutex_t* mutex = raw.view().mutex;
  ASSERT_EQ(pthread_mutex_lock(mutex), EOWNERDEAD);
  ASSERT_EQ(pthread_mutex_unlock(mutex), 0);

  std::optional<std::string> message = bounded<std::string>([this] {
    try {
      segment_->list();
    } catch (const SegmentError& error) {
      return std::string(error.what());
    }
    return std::string();
  });
  ASSERT_TRUE(message);

  EXPECT_NE(message->find("not recoverable"), std::string::npos) << *message;
  EXPECT_NE(message->find("remove /dev/shm/" + options_.name), std::string::npos) << *message;
}

TEST_F(LockRecovery, RelockingInOneThreadThrows) {
  segment_ = Segment::create(options_);

  std::optional<int> error = bounded<int>([this] {
    Segment::Guard guard = segment_->lock();
    try {
      segment_->list();
    } catch (const std::system_error& error) {
      return error.code().value();
    }
    return 0;
  });
  ASSERT_TRUE(error);

  EXPECT_EQ(*error, EDEADLK);
  EXPECT_TRUE(segment_->list().empty());
}

}  // namespace
}  // namespace berth::shm
