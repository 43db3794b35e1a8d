#include "auth/credentials.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/log.hpp"

namespace berth::auth {
namespace {

// bcrypt's cost is the log2 of its rounds; crypt(3) accepts 4 to 31.
constexpr int kMinBcryptCost = 4;
constexpr int kMaxBcryptCost = 31;
// The cost of `htpasswd -B`, used when the file has no bcrypt entry.
constexpr int kDefaultBcryptCost = 5;

// How often the warning about one user's non-bcrypt entry may repeat, because
// every login attempt for that user would log it again.
constexpr auto kWarningInterval = std::chrono::minutes(1);

// One user's line of the htpasswd file, and the highest bcrypt cost in it.
struct HtpasswdEntry {
  bool found = false;
  std::string hash;
  int max_cost = 0;  // 0 when the file has no bcrypt entry
};

// Returns the cost of a "$2y$NN$…" hash ($2a$ and $2b$ too), or nullopt when
// `hash` is not a bcrypt hash that crypt(3) accepts.
std::optional<int> bcryptCost(std::string_view hash) {
  const bool bcrypt =
      hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$");
  if (!bcrypt || hash.size() < 7 || hash[6] != '$') return std::nullopt;
  if (!std::isdigit(static_cast<unsigned char>(hash[4])) ||
      !std::isdigit(static_cast<unsigned char>(hash[5]))) {
    return std::nullopt;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < kMinBcryptCost || cost > kMaxBcryptCost) return std::nullopt;
  return cost;
}

// Reads the whole file, also past the user's line, so the time taken does
// not depend on where the user's line is.
HtpasswdEntry readEntry(const std::string& htpasswd_path, std::string_view user) {
  std::ifstream file(htpasswd_path);
  if (!file) {
    throw std::runtime_error("cannot read htpasswd file " + htpasswd_path + ": " +
                             std::strerror(errno));
  }

  HtpasswdEntry entry;
  std::string line;
  while (std::getline(file, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string hash = line.substr(colon + 1);
    while (!hash.empty() && (hash.back() == '\r' || hash.back() == ' ')) hash.pop_back();

    if (const auto cost = bcryptCost(hash)) entry.max_cost = std::max(entry.max_cost, *cost);
    if (!entry.found && std::string_view(line).substr(0, colon) == user) {
      entry.found = true;
      entry.hash = std::move(hash);
    }
  }
  return entry;
}

bool hashMatches(const std::string& hash, std::string_view password) {
  struct crypt_data data {};
  const std::string phrase(password);
  const char* result = crypt_r(phrase.c_str(), hash.c_str(), &data);
  if (result == nullptr || result[0] == '*') return false;
  return std::strlen(result) == hash.size() && CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
}

// Runs bcrypt at `cost` over the password and discards the result, so that a
// rejected user costs as much time as a known one.
void hashDummy(std::string_view password, int cost) {
  // The salt's bytes do not matter because the result is discarded.
  static constexpr char kSaltBytes[16] = {};
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", static_cast<unsigned long>(cost), kSaltBytes, sizeof kSaltBytes,
                       setting, sizeof setting) == nullptr) {
    throw std::logic_error("crypt_gensalt_rn rejected bcrypt cost " + std::to_string(cost) + ": " +
                           std::strerror(errno));
  }

  struct crypt_data data {};
  const std::string phrase(password);
  crypt_r(phrase.c_str(), setting, &data);
}

void warnNotBcrypt(const std::string& htpasswd_path, std::string_view user) {
  static std::mutex mutex;
  static std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> last_warned;

  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex);
    const auto previous = last_warned.find(user);
    if (previous != last_warned.end() && now - previous->second < kWarningInterval) return;
    last_warned[std::string(user)] = now;
  }
  log::warning("login rejected: the htpasswd entry of user=" + std::string(user) + " in " +
               htpasswd_path +
               " is not a bcrypt hash, and berth accepts only bcrypt; re-create it with "
               "`htpasswd -B` (repeats of this warning are suppressed for a minute)");
}

}  // namespace

bool verifyPassword(const std::string& htpasswd_path, std::string_view user,
                    std::string_view password) {
  const HtpasswdEntry entry = readEntry(htpasswd_path, user);

  // Only bcrypt is accepted: crypt(3) would also take DES or MD5 hashes.
  if (!entry.found || !bcryptCost(entry.hash)) {
    if (entry.found) warnNotBcrypt(htpasswd_path, user);
    hashDummy(password, entry.max_cost > 0 ? entry.max_cost : kDefaultBcryptCost);
    return false;
  }
  return hashMatches(entry.hash, password);
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
