#include "fcgi/http.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <set>

namespace berth::fcgi {
namespace {

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Returns whether `text` equals `lowercase`, ignoring ASCII case. `lowercase`
// must be lowercase.
bool equalsIgnoringCase(std::string_view text, std::string_view lowercase) {
  if (text.size() != lowercase.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != lowercase[i]) return false;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decodeFormComponent(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hexValue(text[i + 1]);
      const int low = hexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      decoded += text[i];
    }
  }
  return decoded;
}

// Returns the length of the UTF-8 sequence at the start of `text` (RFC 3629:
// shortest form, no surrogates, at most U+10FFFF), or 0 when it is invalid.
std::size_t utf8SequenceLength(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;

  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }

  if (text.size() < length || byte(1) < second_min || byte(1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// Replaces each byte that is not part of valid UTF-8 with U+FFFD. Details
// and fields echo request bytes, and a JSON text must be UTF-8 (RFC 8259).
std::string toValidUtf8(std::string_view text) {
  std::string valid;
  valid.reserve(text.size());
  while (!text.empty()) {
    const std::size_t length = utf8SequenceLength(text);
    if (length == 0) {
      valid += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      valid.append(text.substr(0, length));
      text.remove_prefix(length);
    }
  }
  return valid;
}

Response duplicateField(std::string_view name) {
  const std::string field(name);
  return problem(400, "duplicate-field", "Duplicate field",
                 "the field \"" + field + "\" appears more than once; send it once", field);
}

}  // namespace

std::optional<std::string> Request::cookieValue(std::string_view name) const {
  std::string_view rest = cookie;
  while (!rest.empty()) {
    const auto end = rest.find(';');
    const std::string_view pair = trimSpaces(rest.substr(0, end));
    const auto equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      return std::string(pair.substr(equals + 1));
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::optional<std::string> Request::bearerToken() const {
  const std::string_view value = authorization;
  const auto space = value.find(' ');
  if (space == std::string_view::npos || !equalsIgnoringCase(value.substr(0, space), "bearer")) {
    return std::nullopt;
  }
  const std::string_view token = trimSpaces(value.substr(space + 1));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

bool hasMediaType(std::string_view content_type, std::string_view media_type) {
  return equalsIgnoringCase(trimSpaces(content_type.substr(0, content_type.find(';'))), media_type);
}

Response unsupportedMediaType(const Request& request, std::string_view accepted) {
  return problem(415, "unsupported-media-type", "Unsupported media type",
                 "Content-Type \"" + request.content_type + "\" is not accepted; send " +
                     std::string(accepted),
                 "Content-Type");
}

Response jsonResponse(int status, std::string json) {
  Response response;
  response.status = status;
  response.setHeader("Content-Type", "application/json");
  response.setHeader("Cache-Control", "no-store");
  response.body = std::move(json);
  response.body += '\n';
  return response;
}

Response problem(int status, std::string_view type, std::string_view title, std::string_view detail,
                 std::string_view field) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  const std::string type_uri = "urn:berth:problem:" + std::string(type);

  writer.StartObject();
  writer.Key("type");
  writer.String(type_uri.data(), type_uri.size());
  writer.Key("title");
  writer.String(title.data(), title.size());
  writer.Key("status");
  writer.Int(status);
  const std::string valid_detail = toValidUtf8(detail);
  writer.Key("detail");
  writer.String(valid_detail.data(), valid_detail.size());
  if (!field.empty()) {
    const std::string valid_field = toValidUtf8(field);
    writer.Key("field");
    writer.String(valid_field.data(), valid_field.size());
  }
  writer.EndObject();

  Response response = jsonResponse(status, buffer.GetString());
  response.headers[0].second = "application/problem+json";
  return response;
}

std::variant<FormFields, Response> parseForm(std::string_view body) {
  FormFields fields;
  while (!body.empty()) {
    const auto end = body.find('&');
    const std::string_view pair = body.substr(0, end);
    if (!pair.empty()) {
      const auto equals = pair.find('=');
      auto key = decodeFormComponent(pair.substr(0, equals));
      auto value = decodeFormComponent(equals == std::string_view::npos ? std::string_view()
                                                                        : pair.substr(equals + 1));
      if (!key || !value) {
        return problem(400, "invalid-form", "Invalid form body",
                       "the form body has a malformed percent escape", "body");
      }
      if (fields.contains(*key)) return duplicateField(*key);
      fields.emplace(std::move(*key), std::move(*value));
    }
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return fields;
}

std::variant<rapidjson::Document, Response> parseJsonObject(const std::string& body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError()) {
    return problem(400, "invalid-json", "Invalid JSON",
                   std::string("the body is not valid JSON: ") +
                       rapidjson::GetParseError_En(document.GetParseError()) + " at offset " +
                       std::to_string(document.GetErrorOffset()),
                   "body");
  }
  if (!document.IsObject()) {
    return problem(400, "invalid-json", "Invalid JSON", "the body must be a JSON object", "body");
  }

  // RFC 8259 leaves the meaning of a repeated name open and rapidjson keeps
  // every copy, so a body with two "user" members is rejected, not guessed at.
  std::set<std::string_view> names;
  for (const auto& member : document.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (!names.insert(name).second) return duplicateField(name);
  }
  return document;
}

Response methodNotAllowed(const Request& request, const char* allowed) {
  Response response =
      problem(405, "method-not-allowed", "Method not allowed",
              request.method + " is not allowed on " + request.path + "; use " + allowed, "method");
  response.setHeader("Allow", allowed);
  return response;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 303:
      return "See Other";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace berth::fcgi
