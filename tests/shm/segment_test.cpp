#include "shm/segment.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/version.hpp>

#include <set>
#include <stdexcept>
#include <string>

#include "tests/shm/segment_fixture.hpp"

namespace berth::shm {
namespace {

using testing::RawMapping;
using testing::SegmentTest;

constexpr pid_t kPid = 4242;
constexpr std::int64_t kNow = 1'700'000'000;

TokenHash tokenHash(std::uint8_t seed) {
  TokenHash hash{};
  hash.fill(seed);
  return hash;
}

// Expects `call` to throw SegmentError and returns its message.
template <typename Call>
std::string segmentErrorOf(Call call) {
  try {
    call();
  } catch (const SegmentError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no SegmentError thrown";
  return "";
}

class SegmentCreate : public SegmentTest {};
class SegmentOpen : public SegmentTest {};
class SegmentClaim : public SegmentTest {};
class SegmentMovePort : public SegmentTest {};
class SegmentLifecycle : public SegmentTest {};
class SegmentToken : public SegmentTest {};

TEST_F(SegmentCreate, StartsEmpty) {
  auto segment = Segment::create(options_);

  EXPECT_EQ(segment->portMin(), 8000);
  EXPECT_EQ(segment->portMax(), 8009);
  EXPECT_EQ(segment->capacity(), 10u);
  EXPECT_TRUE(segment->list().empty());
  EXPECT_EQ(segment->recoveries(), 0u);
  EXPECT_TRUE(segment->consistencyProblems().empty());
  EXPECT_EQ(segment->owner(), (std::pair<pid_t, std::uint64_t>{0, 0}));
}

TEST_F(SegmentCreate, SecondCreateFails) {
  auto segment = Segment::create(options_);

  std::string message = segmentErrorOf([this] { Segment::create(options_); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_NE(message.find(devicePath()), std::string::npos) << message;
}

TEST_F(SegmentCreate, OnlyOwnerMayAccess) {
  auto segment = Segment::create(options_);

  struct stat status {};
  ASSERT_EQ(stat(devicePath().c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
}

TEST_F(SegmentCreate, InvalidPortRangeRejected) {
  options_.port_min = 9000;
  options_.port_max = 8000;
  EXPECT_THROW(Segment::create(options_), SegmentError);

  options_.port_min = 0;
  EXPECT_THROW(Segment::create(options_), SegmentError);
}

TEST_F(SegmentCreate, FullPortRangeFits) {
  options_.port_min = 1;
  options_.port_max = 65535;
  auto segment = Segment::create(options_);

  EXPECT_EQ(segment->capacity(), 65535u);
  EXPECT_EQ(segment->claim("alice", kPid, kNow).session.port, 1);
}

TEST_F(SegmentCreate, RemoveReportsWhetherSegmentExisted) {
  auto segment = Segment::create(options_);

  EXPECT_TRUE(Segment::remove(options_.name));
  EXPECT_FALSE(Segment::remove(options_.name));
  EXPECT_TRUE(segment->claim("alice", kPid, kNow).created);
}

TEST_F(SegmentOpen, SharesSessionsWithCreator) {
  auto created = Segment::create(options_);
  auto opened = Segment::open(options_);

  Claim claim = created->claim("alice", kPid, kNow);
  std::optional<Session> found = opened->findByUser("alice");

  ASSERT_TRUE(found);
  EXPECT_EQ(found->slot, claim.session.slot);
  EXPECT_EQ(found->port, claim.session.port);
}

TEST_F(SegmentOpen, MissingSegmentFails) {
  std::string message = segmentErrorOf([this] { Segment::open(options_); });

  EXPECT_NE(message.find("missing"), std::string::npos) << message;
  EXPECT_NE(message.find(devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, OtherPortMaxRejected) {
  auto segment = Segment::create(options_);
  options_.port_max = 8010;

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("port_max 8009, expected 8010"), std::string::npos) << message;
  EXPECT_NE(message.find("remove " + devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, OtherPortMinRejected) {
  auto segment = Segment::create(options_);
  options_.port_min = 7999;

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("port_min 8000, expected 7999"), std::string::npos) << message;
}

TEST_F(SegmentOpen, CorruptMagicRejected) {
  auto segment = Segment::create(options_);
  RawMapping(options_.name).header().magic ^= 1;

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("magic"), std::string::npos) << message;
  EXPECT_NE(message.find("Stop every berth process"), std::string::npos) << message;
  EXPECT_NE(message.find("remove " + devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, OtherLayoutVersionRejected) {
  auto segment = Segment::create(options_);
  RawMapping(options_.name).header().layout_version = layout::kLayoutVersion + 1;

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  std::string expected = "layout version " + std::to_string(layout::kLayoutVersion + 1) +
                         ", expected " + std::to_string(layout::kLayoutVersion);
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  EXPECT_NE(message.find("remove " + devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, OtherBoostVersionRejected) {
  auto segment = Segment::create(options_);
  RawMapping(options_.name).header().boost_version = 107800;

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  std::string expected = "Boost version 107800, expected " + std::to_string(BOOST_VERSION);
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

// The tables are cut off, so an open() that read them would die of SIGBUS.
TEST_F(SegmentOpen, TruncatedSegmentRejected) {
  Segment::create(options_).reset();
  boost::interprocess::shared_memory_object object(
      boost::interprocess::open_only, options_.name.c_str(), boost::interprocess::read_write);
  object.truncate(sizeof(layout::Header));

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("total size"), std::string::npos) << message;
  EXPECT_NE(message.find("remove " + devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, UninitialisedSegmentRejected) {
  boost::interprocess::shared_memory_object object(
      boost::interprocess::create_only, options_.name.c_str(), boost::interprocess::read_write);
  object.truncate(layout::totalSize(10));

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("not initialised"), std::string::npos) << message;
  EXPECT_NE(message.find("died"), std::string::npos) << message;
  EXPECT_NE(message.find("remove " + devicePath()), std::string::npos) << message;
}

TEST_F(SegmentOpen, EmptyObjectRejected) {
  boost::interprocess::shared_memory_object object(
      boost::interprocess::create_only, options_.name.c_str(), boost::interprocess::read_write);

  std::string message = segmentErrorOf([this] { Segment::open(options_); });
  EXPECT_NE(message.find("not initialised"), std::string::npos) << message;
}

TEST_F(SegmentClaim, NewSessionIsStarting) {
  auto segment = Segment::create(options_);

  Claim claim = segment->claim("alice", kPid, kNow);

  EXPECT_TRUE(claim.created);
  EXPECT_EQ(claim.session.state, State::Starting);
  EXPECT_EQ(claim.session.user, "alice");
  EXPECT_EQ(claim.session.port, 8000);
  EXPECT_EQ(claim.session.slot, 0u);
  EXPECT_NE(claim.session.generation, 0u);
  EXPECT_EQ(claim.session.owner_pid, kPid);
  EXPECT_EQ(claim.session.created, kNow);
  EXPECT_EQ(claim.session.last_seen, kNow);
  EXPECT_TRUE(claim.session.container_id.empty());
}

TEST_F(SegmentClaim, SameUserTwiceGetsOneSession) {
  auto segment = Segment::create(options_);

  Claim first = segment->claim("alice", kPid, kNow);
  Claim second = segment->claim("alice", kPid + 1, kNow + 5);

  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.session.slot, first.session.slot);
  EXPECT_EQ(second.session.generation, first.session.generation);
  EXPECT_EQ(second.session.port, first.session.port);
  EXPECT_EQ(second.session.owner_pid, kPid);
  EXPECT_EQ(segment->list().size(), 1u);
}

TEST_F(SegmentClaim, DifferentUsersGetDistinctPorts) {
  auto segment = Segment::create(options_);

  std::set<std::uint16_t> ports;
  for (int user = 0; user < 10; ++user) {
    Claim claim = segment->claim("user" + std::to_string(user), kPid, kNow);
    EXPECT_TRUE(claim.created);
    EXPECT_EQ(claim.session.port, 8000 + user);
    ports.insert(claim.session.port);
  }

  EXPECT_EQ(ports.size(), 10u);
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

TEST_F(SegmentClaim, NamesComparedExactly) {
  auto segment = Segment::create(options_);

  segment->claim("alice", kPid, kNow);

  EXPECT_TRUE(segment->claim("Alice", kPid, kNow).created);
  EXPECT_TRUE(segment->claim("alice ", kPid, kNow).created);
  EXPECT_TRUE(segment->claim("alic", kPid, kNow).created);
  EXPECT_FALSE(segment->findByUser("ALICE"));
  EXPECT_EQ(segment->list().size(), 4u);
}

TEST_F(SegmentClaim, InvalidUserNameRejected) {
  auto segment = Segment::create(options_);

  EXPECT_THROW(segment->claim("", kPid, kNow), std::invalid_argument);
  EXPECT_THROW(segment->claim(std::string(kUserMax + 1, 'a'), kPid, kNow), std::invalid_argument);
  EXPECT_THROW(segment->claim(std::string("al\0ice", 6), kPid, kNow), std::invalid_argument);

  std::string longest(kUserMax, 'a');
  EXPECT_EQ(segment->claim(longest, kPid, kNow).session.user, longest);
}

TEST_F(SegmentClaim, FullRangeThrowsCapacityError) {
  auto segment = Segment::create(options_);
  for (int user = 0; user < 10; ++user) segment->claim("user" + std::to_string(user), kPid, kNow);

  EXPECT_THROW(segment->claim("eleventh", kPid, kNow), CapacityError);
  EXPECT_FALSE(segment->claim("user3", kPid, kNow).created);
  EXPECT_FALSE(segment->findByUser("eleventh"));
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

TEST_F(SegmentClaim, ReleaseFreesPortForReuse) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->claim("bob", kPid, kNow);

  EXPECT_TRUE(segment->release(alice.slot, alice.generation));

  Session carol = segment->claim("carol", kPid, kNow).session;
  EXPECT_EQ(carol.port, alice.port);
  EXPECT_EQ(carol.slot, alice.slot);
  EXPECT_FALSE(segment->findByUser("alice"));
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

TEST_F(SegmentClaim, ReleaseTwiceReturnsFalse) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  EXPECT_TRUE(segment->release(alice.slot, alice.generation));
  EXPECT_FALSE(segment->release(alice.slot, alice.generation));
}

TEST_F(SegmentClaim, ReusedSlotIgnoresStaleHandle) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->release(alice.slot, alice.generation);
  Session bob = segment->claim("bob", kPid, kNow).session;
  ASSERT_EQ(bob.slot, alice.slot);
  ASSERT_NE(bob.generation, alice.generation);

  EXPECT_FALSE(segment->get(alice.slot, alice.generation));
  EXPECT_FALSE(segment->takeOver(alice.slot, alice.generation, kPid + 1));
  EXPECT_FALSE(segment->setContainer(alice.slot, alice.generation, "c0"));
  EXPECT_FALSE(segment->addToken(alice.slot, alice.generation, tokenHash(1)));
  EXPECT_FALSE(segment->movePort(alice.slot, alice.generation, bob.port, kNow, 60));
  EXPECT_FALSE(segment->markRunning(alice.slot, alice.generation));
  EXPECT_FALSE(segment->beginStop(alice.slot, alice.generation));
  EXPECT_FALSE(segment->release(alice.slot, alice.generation));

  std::optional<Session> current = segment->get(bob.slot, bob.generation);
  ASSERT_TRUE(current);
  EXPECT_EQ(current->user, "bob");
  EXPECT_EQ(current->state, State::Starting);
  EXPECT_EQ(current->owner_pid, kPid);
  EXPECT_EQ(current->port, bob.port);
  EXPECT_TRUE(current->container_id.empty());
  EXPECT_FALSE(segment->findByToken(tokenHash(1), kNow));
}

TEST_F(SegmentClaim, OutOfRangeSlotIsGone) {
  auto segment = Segment::create(options_);

  EXPECT_FALSE(segment->get(10, 1));
  EXPECT_FALSE(segment->release(1'000'000, 1));
}

TEST_F(SegmentClaim, ListIsOrderedBySlot) {
  auto segment = Segment::create(options_);
  segment->claim("alice", kPid, kNow);
  Session bob = segment->claim("bob", kPid, kNow).session;
  segment->claim("carol", kPid, kNow);
  segment->release(bob.slot, bob.generation);

  std::vector<Session> sessions = segment->list();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].user, "alice");
  EXPECT_EQ(sessions[1].user, "carol");

  EXPECT_EQ(segment->claim("dave", kPid, kNow).session.slot, bob.slot);
}

TEST_F(SegmentMovePort, BlocksPortAndPicksAnother) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  ASSERT_EQ(alice.port, 8000);

  std::optional<Session> moved = segment->movePort(alice.slot, alice.generation, 8000, kNow, 60);

  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->port, 8001);
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->port, 8001);
  EXPECT_EQ(segment->claim("bob", kPid, kNow).session.port, 8002);
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

TEST_F(SegmentMovePort, BlockedPortReusableAfterBlockTime) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->movePort(alice.slot, alice.generation, 8000, kNow, 60);

  EXPECT_EQ(segment->claim("bob", kPid, kNow + 59).session.port, 8002);
  EXPECT_EQ(segment->claim("carol", kPid, kNow + 60).session.port, 8000);
}

TEST_F(SegmentMovePort, NoFreePortDropsSessionPort) {
  options_.port_max = 8001;
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->claim("bob", kPid, kNow);

  EXPECT_THROW(segment->movePort(alice.slot, alice.generation, 8000, kNow, 60), CapacityError);

  std::optional<Session> after = segment->get(alice.slot, alice.generation);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->port, 0);
  EXPECT_EQ(after->state, State::Starting);
  EXPECT_TRUE(segment->consistencyProblems().empty());

  EXPECT_TRUE(segment->release(alice.slot, alice.generation));
  EXPECT_THROW(segment->claim("carol", kPid, kNow + 59), CapacityError);
  EXPECT_EQ(segment->claim("carol", kPid, kNow + 60).session.port, 8000);
}

TEST_F(SegmentMovePort, OnlyForStartingSession) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->markRunning(alice.slot, alice.generation);

  EXPECT_FALSE(segment->movePort(alice.slot, alice.generation, 8000, kNow, 60));
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->port, 8000);
}

TEST_F(SegmentMovePort, PortOutsideRangeRejected) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  EXPECT_THROW(segment->movePort(alice.slot, alice.generation, 7999, kNow, 60),
               std::invalid_argument);
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->port, 8000);
}

TEST_F(SegmentLifecycle, StartingToRunningToStopping) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  std::string container_id(kContainerIdMax, 'c');

  EXPECT_TRUE(segment->setContainer(alice.slot, alice.generation, container_id));
  EXPECT_TRUE(segment->markRunning(alice.slot, alice.generation));
  EXPECT_FALSE(segment->markRunning(alice.slot, alice.generation));

  std::optional<Session> before = segment->beginStop(alice.slot, alice.generation);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->state, State::Running);
  EXPECT_EQ(before->container_id, container_id);

  std::optional<Session> again = segment->beginStop(alice.slot, alice.generation);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state, State::Stopping);
  EXPECT_EQ(again->container_id, container_id);
  EXPECT_FALSE(segment->markRunning(alice.slot, alice.generation));
}

TEST_F(SegmentLifecycle, TakeOverOnlyWhileStarting) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  EXPECT_TRUE(segment->takeOver(alice.slot, alice.generation, kPid + 1));
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->owner_pid, kPid + 1);

  segment->markRunning(alice.slot, alice.generation);
  EXPECT_FALSE(segment->takeOver(alice.slot, alice.generation, kPid + 2));
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->owner_pid, kPid + 1);
}

TEST_F(SegmentLifecycle, InvalidContainerIdRejected) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  EXPECT_THROW(
      segment->setContainer(alice.slot, alice.generation, std::string(kContainerIdMax + 1, 'c')),
      std::invalid_argument);
  EXPECT_TRUE(segment->get(alice.slot, alice.generation)->container_id.empty());
}

TEST_F(SegmentLifecycle, OwnerVisibleToOtherMappings) {
  auto created = Segment::create(options_);
  auto opened = Segment::open(options_);

  created->setOwner(1234, 987654321);

  EXPECT_EQ(opened->owner(), (std::pair<pid_t, std::uint64_t>{1234, 987654321}));
}

TEST_F(SegmentToken, FindByTokenUpdatesLastSeen) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->claim("bob", kPid, kNow);

  ASSERT_TRUE(segment->addToken(alice.slot, alice.generation, tokenHash(7)));
  std::optional<Session> found = segment->findByToken(tokenHash(7), kNow + 30);

  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_EQ(found->last_seen, kNow + 30);
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->last_seen, kNow + 30);
}

TEST_F(SegmentToken, TouchUpdatesLastSeen) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  EXPECT_TRUE(segment->touch(alice.slot, alice.generation, kNow + 45));
  EXPECT_EQ(segment->get(alice.slot, alice.generation)->last_seen, kNow + 45);

  ASSERT_TRUE(segment->beginStop(alice.slot, alice.generation));
  ASSERT_TRUE(segment->release(alice.slot, alice.generation));
  EXPECT_FALSE(segment->touch(alice.slot, alice.generation, kNow + 60));
}

TEST_F(SegmentToken, UnknownTokenNotFound) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->addToken(alice.slot, alice.generation, tokenHash(7));

  EXPECT_FALSE(segment->findByToken(tokenHash(8), kNow));
  EXPECT_FALSE(segment->findByToken(TokenHash{}, kNow));
}

TEST_F(SegmentToken, FifthTokenReplacesOldest) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;

  for (std::uint8_t seed = 1; seed <= kTokensPerSession + 1; ++seed) {
    ASSERT_TRUE(segment->addToken(alice.slot, alice.generation, tokenHash(seed)));
  }

  EXPECT_FALSE(segment->findByToken(tokenHash(1), kNow));
  for (std::uint8_t seed = 2; seed <= kTokensPerSession + 1; ++seed) {
    EXPECT_TRUE(segment->findByToken(tokenHash(seed), kNow)) << "token " << int{seed};
  }
}

TEST_F(SegmentToken, BeginStopDropsTokens) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->addToken(alice.slot, alice.generation, tokenHash(7));
  segment->markRunning(alice.slot, alice.generation);

  segment->beginStop(alice.slot, alice.generation);

  EXPECT_FALSE(segment->findByToken(tokenHash(7), kNow));
  EXPECT_FALSE(segment->addToken(alice.slot, alice.generation, tokenHash(8)));
  EXPECT_FALSE(segment->findByToken(tokenHash(8), kNow));
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

TEST_F(SegmentToken, ReleaseDropsTokens) {
  auto segment = Segment::create(options_);
  Session alice = segment->claim("alice", kPid, kNow).session;
  segment->addToken(alice.slot, alice.generation, tokenHash(7));

  segment->release(alice.slot, alice.generation);
  Session bob = segment->claim("bob", kPid, kNow).session;

  ASSERT_EQ(bob.slot, alice.slot);
  EXPECT_FALSE(segment->findByToken(tokenHash(7), kNow));
}

}  // namespace
}  // namespace berth::shm
