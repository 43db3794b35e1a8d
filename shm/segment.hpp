#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shm/session.hpp"

namespace berth::shm {

// Raised when the segment cannot be created or opened: missing, created by a
// different layout or Boost version, built for another port range, or left
// half-initialised by a creator that died. what() tells how to recover.
class SegmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by claim() and movePort() when every session slot or every port of
// the range is in use.
class CapacityError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SegmentOptions {
  std::string name = "berth";  // POSIX shared memory name, without the leading '/'
  std::uint16_t port_min = 8000;
  std::uint16_t port_max = 9000;  // inclusive
};

// Result of claim(): either a new session in state Starting, owned by the
// caller, or the session the user already has (in any state but Free).
struct Claim {
  bool created = false;
  Session session;
};

// The shared-memory state of a berth pool: a header, a robust lock, a session
// table with one slot per port of the range, and the port map.
//
// The segment is a Boost.Interprocess shared_memory_object with a fixed layout
// (no allocator). It starts with a header (magic, layout version, size, Boost
// version, port range); open() refuses any mismatch instead of reading it.
//
// Every method takes the lock for a few microseconds and never calls Docker.
// The lock is a process-shared robust pthread mutex: when its holder dies, the
// next locker gets EOWNERDEAD, rebuilds the port map from the session table
// (the table is the source of truth), marks the mutex consistent and goes on.
// Methods are safe to call from any thread of any process that opened the
// segment.
class Segment {
 public:
  // Creates and initialises a new segment. Throws SegmentError when one of
  // that name exists already.
  static std::unique_ptr<Segment> create(const SegmentOptions& options);

  // Opens an existing segment and checks its header against the options.
  // Throws SegmentError when it is missing, does not match, or is not
  // initialised within one second (its creator died).
  static std::unique_ptr<Segment> open(const SegmentOptions& options);

  // Unlinks the segment. Processes that have it mapped keep their mapping.
  // Returns false when there was none.
  static bool remove(const std::string& name);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // The pool that owns the segment: the master's pid and its start time in
  // clock ticks since boot (field 22 of /proc/PID/stat), so that a reused pid
  // is not mistaken for the owner. Zero pid means no pool has claimed it.
  void setOwner(pid_t pid, std::uint64_t start_time);
  std::pair<pid_t, std::uint64_t> owner() const;

  // Returns the user's session if there is one; otherwise creates one in state
  // Starting with owner_pid = pid, a free slot and the lowest free port that
  // is not blocked. Throws CapacityError when no slot or port is free.
  Claim claim(const std::string& user, pid_t pid, std::int64_t now);

  // Blocks `port` for `block_seconds` (another process holds it) and gives the
  // session the lowest free port that is not blocked. Only for a session in
  // state Starting. Returns the updated session, or nullopt when the session
  // is gone. Throws CapacityError when no port is free; the session then
  // keeps no port and must be released.
  std::optional<Session> movePort(std::uint32_t slot, std::uint64_t generation, std::uint16_t port,
                                  std::int64_t now, std::int64_t block_seconds);

  // Hands a Starting session over to `pid` (its owner died). Returns false
  // when the session is gone or no longer Starting.
  bool takeOver(std::uint32_t slot, std::uint64_t generation, pid_t pid);

  // Records the container id of a Starting session. Returns false when the
  // session is gone.
  bool setContainer(std::uint32_t slot, std::uint64_t generation, const std::string& container_id);

  // Moves a Starting session to Running. Returns false when the session is
  // gone or not Starting.
  bool markRunning(std::uint32_t slot, std::uint64_t generation);

  // Adds a token hash to the session, replacing the oldest when all
  // kTokensPerSession places are taken. Returns false when the session is gone.
  bool addToken(std::uint32_t slot, std::uint64_t generation, const TokenHash& hash);

  // Sets the session's last_seen to now. Returns false when it is gone.
  bool touch(std::uint32_t slot, std::uint64_t generation, std::int64_t now);

  // Finds the session holding this token hash and sets its last_seen to now.
  std::optional<Session> findByToken(const TokenHash& hash, std::int64_t now);

  std::optional<Session> findByUser(const std::string& user) const;
  std::optional<Session> get(std::uint32_t slot, std::uint64_t generation) const;

  // Moves a session to Stopping and drops its tokens, so that no request can
  // use it while its container is removed. Returns the session as it was
  // before, or nullopt when it is gone. Calling it on a Stopping session
  // returns that session again, so a retry after a crash can finish the job.
  std::optional<Session> beginStop(std::uint32_t slot, std::uint64_t generation);

  // Frees the slot, its port and its tokens. Returns false when the session
  // was gone already.
  bool release(std::uint32_t slot, std::uint64_t generation);

  // Every session not Free, ordered by slot.
  std::vector<Session> list() const;

  std::uint16_t portMin() const;
  std::uint16_t portMax() const;
  std::uint32_t capacity() const;

  // How often a locker found the lock's holder dead and repaired the tables.
  std::uint64_t recoveries() const;

  // Describes every inconsistency between the session table and the port map
  // (empty when consistent). Takes the lock. For health checks and tests.
  std::vector<std::string> consistencyProblems() const;

  // Keeps the lock until destroyed. It is public so that tests can kill a
  // process that has the lock. Production code uses the methods above.
  class Guard {
   public:
    explicit Guard(const Segment& segment);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    const Segment& segment_;
  };
  Guard lock() const { return Guard(*this); }

 private:
  struct Mapping;
  explicit Segment(std::unique_ptr<Mapping> mapping);
  std::unique_ptr<Mapping> mapping_;
};

}  // namespace berth::shm
