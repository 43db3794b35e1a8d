#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

// Checks a user's password against an htpasswd file of bcrypt hashes
// (`htpasswd -B`), verified with crypt(3). The file is read on every call,
// so edits take effect at the next login without a restart. An unknown user,
// or one whose entry is not bcrypt, costs one bcrypt run at the highest cost
// in the file, so the response time does not tell which users exist. A
// non-bcrypt entry is rejected and logged as a warning.
// NOTE: in a file that mixes costs, a login of a user below the highest cost
// still returns sooner than one of an unknown user. Create all entries with
// one -C value.
// Throws std::runtime_error when the file cannot be read.
bool verifyPassword(const std::string& htpasswd_path, std::string_view user,
                    std::string_view password);

// Compares a bearer token with the first line of the admin token file, in
// constant time. Returns false when the file is missing or empty, so the
// admin API is closed until an operator writes a token.
bool verifyAdminToken(const std::string& token_path, std::string_view token);

// Returns nullopt for a valid user name, else what is wrong with it. Valid:
// 1 to 64 characters of [A-Za-z0-9_.-], starting with a letter or digit, no
// "..". Such a name is safe in a Docker name, a label and a URL path.
std::optional<std::string> userNameProblem(std::string_view user);

}  // namespace berth::auth
