#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>

namespace berth::shm {

// Maximum user name length, in bytes; user names are validated before they get here.
inline constexpr std::size_t kUserMax = 64;
// A Docker container id is 64 hex digits.
inline constexpr std::size_t kContainerIdMax = 64;
// Cookies (logins) one session accepts at once; a further login replaces the
// oldest token, whose cookie then stops working.
inline constexpr std::size_t kTokensPerSession = 4;

// SHA-256 of a session token. The token itself is never stored.
using TokenHash = std::array<std::uint8_t, 32>;

enum class State : std::uint8_t {
  Free = 0,      // slot unused
  Starting = 1,  // port reserved, container being created or started by owner_pid
  Running = 2,   // container started and responding to HTTP
  Stopping = 3,  // container being removed
};

const char* stateName(State state);

// A copy of one session slot, taken under the lock. (slot, generation) names
// one session for its whole life: a slot reused by a later session gets a new
// generation, so a stale copy can never change the later session.
struct Session {
  std::uint32_t slot = 0;
  std::uint64_t generation = 0;
  State state = State::Free;
  std::string user;
  std::string container_id;  // empty until the container is created
  std::uint16_t port = 0;
  pid_t owner_pid = 0;         // process that created the session or last took it over
  std::int64_t created = 0;    // unix seconds
  std::int64_t last_seen = 0;  // unix seconds, updated on every authenticated request
};

}  // namespace berth::shm
