#include "auth/token.hpp"

#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace berth::auth {

std::string newSessionToken() {
  unsigned char bytes[32];
  std::size_t filled = 0;
  while (filled < sizeof bytes) {
    const ssize_t got = getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    filled += static_cast<std::size_t>(got);
  }

  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(sizeof bytes * 2);
  for (unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 0x0f];
  }
  return token;
}

shm::TokenHash hashToken(std::string_view token) {
  shm::TokenHash hash{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());
  return hash;
}

}  // namespace berth::auth
