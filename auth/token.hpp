#pragma once

#include <string>
#include <string_view>

#include "shm/session.hpp"

namespace berth::auth {

// Returns a new session token: 32 bytes from getrandom(2) (256 bits) as 64
// lowercase hex digits. Throws std::system_error when getrandom fails.
std::string newSessionToken();

// SHA-256 of the token; only this hash is stored in shared memory.
shm::TokenHash hashToken(std::string_view token);

}  // namespace berth::auth
