#include "fcgi/http.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace berth::fcgi {
namespace {

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
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
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      authorization.compare(0, kScheme.size(), kScheme) != 0) {
    return std::nullopt;
  }
  return std::string(trimSpaces(std::string_view(authorization).substr(kScheme.size())));
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
  writer.Key("detail");
  writer.String(detail.data(), detail.size());
  if (!field.empty()) {
    writer.Key("field");
    writer.String(field.data(), field.size());
  }
  writer.EndObject();

  Response response = jsonResponse(status, buffer.GetString());
  response.headers[0].second = "application/problem+json";
  return response;
}

std::optional<std::map<std::string, std::string>> parseForm(std::string_view body) {
  std::map<std::string, std::string> fields;
  while (!body.empty()) {
    const auto end = body.find('&');
    const std::string_view pair = body.substr(0, end);
    if (!pair.empty()) {
      const auto equals = pair.find('=');
      auto key = decodeFormComponent(pair.substr(0, equals));
      auto value = decodeFormComponent(equals == std::string_view::npos ? std::string_view()
                                                                        : pair.substr(equals + 1));
      if (!key || !value) return std::nullopt;
      fields.emplace(std::move(*key), std::move(*value));
    }
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return fields;
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
