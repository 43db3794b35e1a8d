#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/layout.hpp"
#include "shm/segment.hpp"
#include "shm/session.hpp"

namespace berth::shm {

// The session table and port map of one mapped segment, behind the methods
// of Segment with the same names. Every method expects the caller to hold the
// segment lock.
//
// The session table is the source of truth and the port map an index of it.
// claim() fills a slot while it is still Free and publishes its state last.
// The other mutations order their stores so that a holder dying between two
// of them leaves nothing that repair() cannot fix.
class Table {
 public:
  explicit Table(const layout::View& view);

  Claim claim(std::string_view user, pid_t pid, std::int64_t now);
  std::optional<Session> movePort(std::uint32_t slot, std::uint64_t generation, std::uint16_t port,
                                  std::int64_t now, std::int64_t block_seconds);
  bool takeOver(std::uint32_t slot, std::uint64_t generation, pid_t pid);
  bool setContainer(std::uint32_t slot, std::uint64_t generation, std::string_view container_id);
  bool markRunning(std::uint32_t slot, std::uint64_t generation);
  bool touch(std::uint32_t slot, std::uint64_t generation, std::int64_t now);
  bool addToken(std::uint32_t slot, std::uint64_t generation, const TokenHash& hash);
  std::optional<Session> findByToken(const TokenHash& hash, std::int64_t now);
  std::optional<Session> findByUser(std::string_view user) const;
  std::optional<Session> get(std::uint32_t slot, std::uint64_t generation) const;
  std::optional<Session> beginStop(std::uint32_t slot, std::uint64_t generation);
  bool release(std::uint32_t slot, std::uint64_t generation);
  std::vector<Session> list() const;

  // Makes the tables consistent after a lock holder died, and returns one
  // line per change. A slot with an invalid state or a duplicate user, or a
  // session whose port is outside the range or held by a lower slot, goes to
  // Stopping when it has a container id and to Free otherwise. Then the port
  // map is rebuilt from the table, keeping every port's blocked_until.
  std::vector<std::string> repair();

  // Describes every inconsistency that repair() would fix. The result is
  // empty when the tables are consistent.
  std::vector<std::string> problems() const;

 private:
  layout::Slot* findSession(std::uint32_t slot, std::uint64_t generation) const;
  layout::Slot* findUser(std::string_view user) const;
  std::optional<std::uint32_t> lowestFreeSlot() const;
  std::optional<std::uint16_t> lowestFreePort(std::uint32_t owner, std::int64_t now) const;
  std::string noFreePortMessage(std::int64_t now) const;
  std::optional<std::uint32_t> portIndex(std::uint16_t port) const;
  void blockPort(std::uint16_t port, std::int64_t until);
  void freePort(std::uint16_t port, std::uint32_t owner);
  Session copy(const layout::Slot& slot) const;
  std::uint32_t indexOf(const layout::Slot& slot) const;
  std::string describe(const layout::Slot& slot) const;

  void repairSlot(layout::Slot& slot, std::vector<std::string>& changes);
  void retire(layout::Slot& slot, std::string_view reason, std::vector<std::string>& changes);
  void rebuildPortMap(std::vector<std::string>& changes);
  void findSlotProblems(std::vector<std::string>& problems) const;
  void findPortProblems(std::vector<std::string>& problems) const;

  layout::View view_;
  std::uint32_t capacity_;
  std::uint16_t port_min_;
  std::uint16_t port_max_;
};

// Helpers for slot fields, shared by table.cpp and repair.cpp.

std::string_view textOf(const char* field, std::size_t size);

template <std::size_t Size>
std::string_view textOf(const char (&field)[Size]) {
  return textOf(field, Size);
}

// Stores `text`, cut to size - 1 bytes and padded with NUL bytes. A process
// that dies halfway leaves the old text, an empty one or the new one.
void storeText(char* field, std::size_t size, std::string_view text);

template <std::size_t Size>
void storeText(char (&field)[Size], std::string_view text) {
  storeText(field, Size, text);
}

// Returns true for Starting, Running and Stopping, and false for Free and
// invalid values.
bool isLive(const layout::Slot& slot);

// Stores the state with release order, so that the slot's other fields are
// written before it even when the process dies right after.
void publishState(layout::Slot& slot, State state);

bool hasTokens(const layout::Slot& slot);
void dropTokens(layout::Slot& slot);

}  // namespace berth::shm
