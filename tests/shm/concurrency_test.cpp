#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shm/segment.hpp"
#include "tests/shm/segment_fixture.hpp"

namespace berth::shm {
namespace {

using testing::forkChild;
using testing::SegmentTest;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr int kProcesses = 4;

// Exit codes of a child body besides 0.
constexpr int kStartFailed = 3;
constexpr int kOutputFailed = 4;
constexpr int kPortShared = 5;
constexpr int kSessionChanged = 6;

// One claim() as a child process saw it.
struct ClaimRecord {
  std::uint32_t user = 0;
  std::uint32_t slot = 0;
  std::uint64_t generation = 0;
  std::uint16_t port = 0;
  bool created = false;
};

using ChildBody = std::function<int(Segment& segment, int process, int output)>;

class SegmentConcurrency : public SegmentTest {
 protected:
  // Runs `body` in kProcesses children at once. Each child opens the segment
  // itself and starts only when every child is ready. What a child writes to
  // `output` is returned in records_. Returns true when every child exited
  // with 0.
  bool runInParallel(const ChildBody& body) {
    int start[2];
    if (pipe(start) != 0) return false;

    std::vector<pid_t> children;
    std::vector<int> outputs;
    for (int process = 0; process < kProcesses; ++process) {
      int output[2];
      if (pipe(output) != 0) break;

      children.push_back(forkChild([&, process] {
        close(start[1]);
        close(output[0]);
        auto segment = Segment::open(options_);

        char ignored;
        if (read(start[0], &ignored, 1) != 0) return kStartFailed;
        return body(*segment, process, output[1]);
      }));
      close(output[1]);
      outputs.push_back(output[0]);
    }
    close(start[0]);
    close(start[1]);

    bool succeeded = children.size() == kProcesses;
    for (pid_t child : children) {
      std::optional<int> status = testing::waitForChild(child);
      bool exited = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
      if (!exited) ADD_FAILURE() << "child " << child << " wait status " << status.value_or(-1);
      succeeded = succeeded && exited;
    }

    for (int output : outputs) {
      ClaimRecord record;
      while (read(output, &record, sizeof record) == sizeof record) records_.push_back(record);
      close(output);
    }
    return succeeded;
  }

  std::vector<ClaimRecord> records_;
};

// Claims the users, checks in a list() that no port is given twice and that
// each of its sessions is intact, then releases them. Returns 0 or the exit
// code of the first violation.
int claimCheckRelease(Segment& segment, const std::vector<std::string>& users) {
  std::map<std::string, Session> claimed;
  for (const std::string& user : users) claimed[user] = segment.claim(user, getpid(), kNow).session;

  std::set<std::uint16_t> ports;
  std::map<std::string, Session> listed;
  for (const Session& session : segment.list()) {
    if (!ports.insert(session.port).second) return kPortShared;
    listed[session.user] = session;
  }

  for (const auto& [user, session] : claimed) {
    auto found = listed.find(user);
    if (found == listed.end() || found->second.port != session.port ||
        found->second.generation != session.generation) {
      return kSessionChanged;
    }
    segment.release(session.slot, session.generation);
  }
  return 0;
}

TEST_F(SegmentConcurrency, DistinctUsersNeverSharePort) {
  constexpr int kUsersPerProcess = 50;
  constexpr int kRounds = 2000;
  options_.port_max = options_.port_min + kProcesses * kUsersPerProcess - 1;
  auto segment = Segment::create(options_);

  bool succeeded = runInParallel([](Segment& segment, int process, int) {
    std::vector<std::string> users;
    for (int user = 0; user < kUsersPerProcess; ++user) {
      users.push_back("p" + std::to_string(process) + "-u" + std::to_string(user));
    }

    for (int round = 0; round < kRounds; ++round) {
      int result = claimCheckRelease(segment, users);
      if (result != 0) return result;
    }
    return 0;
  });

  EXPECT_TRUE(succeeded);
  EXPECT_TRUE(segment->list().empty());
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

// Many short rounds, because processes collide most right after they start
// together.
TEST_F(SegmentConcurrency, SameUserGetsOneSession) {
  constexpr int kRounds = 50;
  constexpr int kUsersPerRound = 20;
  constexpr int kUsers = kRounds * kUsersPerRound;
  options_.port_max = options_.port_min + kUsers - 1;
  auto segment = Segment::create(options_);

  for (int round = 0; round < kRounds; ++round) {
    bool succeeded = runInParallel([round](Segment& segment, int, int output) {
      std::vector<ClaimRecord> records;
      for (int user = round * kUsersPerRound; user < (round + 1) * kUsersPerRound; ++user) {
        Claim claim = segment.claim("shared-" + std::to_string(user), getpid(), kNow);
        records.push_back(ClaimRecord{static_cast<std::uint32_t>(user), claim.session.slot,
                                      claim.session.generation, claim.session.port, claim.created});
      }

      ssize_t size = static_cast<ssize_t>(records.size() * sizeof(ClaimRecord));
      return write(output, records.data(), size) == size ? 0 : kOutputFailed;
    });
    ASSERT_TRUE(succeeded) << "round " << round;
  }
  ASSERT_EQ(records_.size(), std::size_t{kProcesses * kUsers});

  std::map<std::uint32_t, std::vector<ClaimRecord>> by_user;
  for (const ClaimRecord& record : records_) by_user[record.user].push_back(record);

  int users_with_one_creator = 0;
  std::set<std::uint16_t> ports;
  for (const auto& [user, claims] : by_user) {
    int created = 0;
    bool same = true;
    for (const ClaimRecord& claim : claims) {
      created += claim.created ? 1 : 0;
      same = same && claim.slot == claims[0].slot && claim.generation == claims[0].generation &&
             claim.port == claims[0].port;
    }
    EXPECT_TRUE(same) << "user shared-" << user << " got more than one session";
    users_with_one_creator += created == 1 ? 1 : 0;
    ports.insert(claims[0].port);
  }

  EXPECT_EQ(users_with_one_creator, kUsers);
  EXPECT_EQ(ports.size(), std::size_t{kUsers});
  EXPECT_EQ(segment->list().size(), std::size_t{kUsers});
  EXPECT_TRUE(segment->consistencyProblems().empty());
}

}  // namespace
}  // namespace berth::shm
