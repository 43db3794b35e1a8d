#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::fcgi {

// Largest request body berth reads, in bytes; nginx's client_max_body_size
// is set to the same 16 KiB.
inline constexpr std::size_t kMaxBodyBytes = 16 * 1024;

// One HTTP request as nginx passes it over FastCGI.
struct Request {
  std::string method;
  std::string path;  // DOCUMENT_URI: decoded, without the query
  std::string content_type;
  std::string cookie;         // HTTP_COOKIE
  std::string authorization;  // HTTP_AUTHORIZATION
  std::string body;
  std::string remote_address;

  // Returns the value of the named cookie, if present.
  std::optional<std::string> cookieValue(std::string_view name) const;
  // Returns the token of an "Authorization: Bearer TOKEN" header, if present.
  std::optional<std::string> bearerToken() const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void setHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// A JSON response; `json` is a serialised document.
Response jsonResponse(int status, std::string json);

// An RFC 9457 problem+json response. `type` is a short stable name that
// becomes "urn:berth:problem:TYPE"; `field`, when not empty, names the input
// that was wrong.
Response problem(int status, std::string_view type, std::string_view title, std::string_view detail,
                 std::string_view field = {});

// Decodes an application/x-www-form-urlencoded body. Returns nullopt when a
// percent escape is malformed.
std::optional<std::map<std::string, std::string>> parseForm(std::string_view body);

// The reason phrase of an HTTP status code.
const char* reasonPhrase(int status);

}  // namespace berth::fcgi
