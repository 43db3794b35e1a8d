#include "auth/credentials.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace berth::auth {
namespace {

// A bcrypt hash of a random password, checked when the user is unknown so
// that an unknown user costs as much as a known one.
constexpr const char* kDummyHash = "$2y$05$HH9n/W1GWaEOOvU.E0RLK.LXZPTKseZATYhyGRe6v48Ua48nhx.7G";

bool hashMatches(const std::string& hash, std::string_view password) {
  struct crypt_data data {};
  const std::string phrase(password);
  const char* result = crypt_r(phrase.c_str(), hash.c_str(), &data);
  if (result == nullptr || result[0] == '*') return false;
  return std::strlen(result) == hash.size() && CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
}

bool isBcrypt(const std::string& hash) {
  return hash.rfind("$2y$", 0) == 0 || hash.rfind("$2b$", 0) == 0 || hash.rfind("$2a$", 0) == 0;
}

}  // namespace

bool verifyPassword(const std::string& htpasswd_path, std::string_view user,
                    std::string_view password) {
  std::ifstream file(htpasswd_path);
  if (!file) {
    throw std::runtime_error("cannot read htpasswd file " + htpasswd_path + ": " +
                             std::strerror(errno));
  }

  std::string hash;
  std::string line;
  while (std::getline(file, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || std::string_view(line).substr(0, colon) != user) continue;
    hash = line.substr(colon + 1);
    while (!hash.empty() && (hash.back() == '\r' || hash.back() == ' ')) hash.pop_back();
    break;
  }

  // Only bcrypt is accepted: crypt(3) would also take DES or MD5 hashes.
  if (hash.empty() || !isBcrypt(hash)) {
    hashMatches(kDummyHash, password);
    return false;
  }
  return hashMatches(hash, password);
}

bool verifyAdminToken(const std::string& token_path, std::string_view token) {
  std::ifstream file(token_path);
  std::string expected;
  if (!file || !std::getline(file, expected)) return false;
  while (!expected.empty() && (expected.back() == '\r' || expected.back() == ' ')) {
    expected.pop_back();
  }
  if (expected.empty() || token.size() != expected.size()) return false;
  return CRYPTO_memcmp(token.data(), expected.data(), expected.size()) == 0;
}

std::optional<std::string> userNameProblem(std::string_view user) {
  if (user.empty()) return "is empty";
  if (user.size() > 64) return "is " + std::to_string(user.size()) + " characters; at most 64";

  const auto first = static_cast<unsigned char>(user[0]);
  if (!std::isalnum(first) || first > 127) return "must start with a letter or digit";
  for (char c : user) {
    const auto byte = static_cast<unsigned char>(c);
    const bool allowed = (byte < 128 && std::isalnum(byte)) || c == '_' || c == '.' || c == '-';
    if (!allowed) return "may contain only letters, digits, '_', '.' and '-'";
  }
  if (user.find("..") != std::string_view::npos) return "must not contain \"..\"";
  return std::nullopt;
}

}  // namespace berth::auth
