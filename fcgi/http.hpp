#pragma once

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
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
  // The scheme name is case-insensitive (RFC 7235, section 2.1).
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
// that was wrong. Bytes of `detail` and `field` that are not valid UTF-8
// become U+FFFD, so echoed request bytes keep the body valid JSON.
Response problem(int status, std::string_view type, std::string_view title, std::string_view detail,
                 std::string_view field = {});

// Returns whether a Content-Type value has the media type `media_type`, which
// must be lowercase. Parameters such as "; charset=utf-8" are ignored, and
// the comparison is case-insensitive.
bool hasMediaType(std::string_view content_type, std::string_view media_type);

// Returns a 415 problem that names the request's Content-Type and the
// `accepted` media types.
Response unsupportedMediaType(const Request& request, std::string_view accepted);

// The fields of a form body, by name.
using FormFields = std::map<std::string, std::string>;

// Decodes an application/x-www-form-urlencoded body. Returns the fields, or a
// 400 problem when a percent escape is malformed ("invalid-form", field
// "body") or a field appears twice ("duplicate-field", field = its name).
std::variant<FormFields, Response> parseForm(std::string_view body);

// Parses a body that must be one JSON object. Returns the document, or a 400
// problem when the body is not JSON or not an object ("invalid-json", field
// "body") or a member name appears twice ("duplicate-field", field = the name).
std::variant<rapidjson::Document, Response> parseJsonObject(const std::string& body);

// A 405 problem for the request's method, with an Allow header listing
// `allowed` (e.g. "GET, POST").
Response methodNotAllowed(const Request& request, const char* allowed);

// The reason phrase of an HTTP status code.
const char* reasonPhrase(int status);

}  // namespace berth::fcgi
