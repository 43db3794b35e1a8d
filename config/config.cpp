#include "config/config.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace berth::config {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

template <typename Number>
Number parseNumber(const std::string& value, Number min, Number max, int base = 10) {
  Number number{};
  const char* end = value.data() + value.size();
  std::from_chars_result result;
  if constexpr (std::is_floating_point_v<Number>) {
    result = std::from_chars(value.data(), end, number);
  } else {
    result = std::from_chars(value.data(), end, number, base);
  }
  bool finite = true;
  if constexpr (std::is_floating_point_v<Number>) finite = std::isfinite(number);
  // NaN compares false with everything, so only the finite check rejects it.
  if (result.ec != std::errc() || result.ptr != end || !finite || number < min || number > max) {
    std::ostringstream message;
    message << "expected a number from " << min << " to " << max;
    throw std::invalid_argument(message.str());
  }
  return number;
}

bool parseBool(const std::string& value) {
  if (value == "true" || value == "yes" || value == "1") return true;
  if (value == "false" || value == "no" || value == "0") return false;
  throw std::invalid_argument("expected true or false");
}

std::string parsePath(const std::string& value) {
  if (value.empty() || value[0] != '/') throw std::invalid_argument("expected an absolute path");
  return value;
}

// Parses a unix socket path, which must fit sockaddr_un::sun_path with its NUL.
std::string parseSocketPath(const std::string& value) {
  constexpr std::size_t kMaxBytes = sizeof(sockaddr_un::sun_path) - 1;
  parsePath(value);
  if (value.size() > kMaxBytes) {
    throw std::invalid_argument("expected a path of at most " + std::to_string(kMaxBytes) +
                                " bytes, the limit of a unix socket path; this one is " +
                                std::to_string(value.size()));
  }
  return value;
}

// Parses a segment name. Container names are "berth_SEGMENT_USER", so the
// segment contains no '_'. A leading '.' is rejected so that "." and ".."
// never name /dev/shm itself or its parent.
std::string parseSegment(const std::string& value) {
  constexpr const char* kExpected =
      "expected 1 to 64 characters of A-Z, a-z, 0-9, '.' and '-', not starting with '.'";
  if (value.empty() || value.size() > 64 || value[0] == '.') {
    throw std::invalid_argument(kExpected);
  }
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    const bool allowed = (byte < 128 && std::isalnum(byte)) || c == '.' || c == '-';
    if (!allowed) throw std::invalid_argument(kExpected);
  }
  return value;
}

std::string parseIpAddress(const std::string& value) {
  in6_addr address{};
  if (::inet_pton(AF_INET, value.c_str(), &address) != 1 &&
      ::inet_pton(AF_INET6, value.c_str(), &address) != 1) {
    throw std::invalid_argument("expected an IP address such as 127.0.0.1 or ::1, not a host name");
  }
  return value;
}

std::string parseName(const std::string& value) {
  if (value.empty() || value.size() > 200) {
    throw std::invalid_argument("expected 1 to 200 characters");
  }
  for (char c : value) {
    const bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                         c == '.' || c == ':' || c == '/';
    if (!allowed) throw std::invalid_argument("expected letters, digits and - _ . : /");
  }
  return value;
}

using Setter = std::function<void(Config&, const std::string&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"listen", [](Config& c, const std::string& v) { c.listen = parseSocketPath(v); }},
      {"socket_mode",
       [](Config& c, const std::string& v) { c.socket_mode = parseNumber<int>(v, 0, 0777, 8); }},
      {"docker_socket",
       [](Config& c, const std::string& v) { c.docker_socket = parseSocketPath(v); }},
      {"segment", [](Config& c, const std::string& v) { c.segment = parseSegment(v); }},
      {"workers", [](Config& c, const std::string& v) { c.workers = parseNumber(v, 0, 256); }},
      {"threads", [](Config& c, const std::string& v) { c.threads = parseNumber(v, 1, 256); }},
      {"port_min",
       [](Config& c, const std::string& v) {
         c.port_min = parseNumber<std::uint16_t>(v, 1, 65535);
       }},
      {"port_max",
       [](Config& c, const std::string& v) {
         c.port_max = parseNumber<std::uint16_t>(v, 1, 65535);
       }},
      {"bind_address", [](Config& c, const std::string& v) { c.bind_address = parseIpAddress(v); }},
      {"public_host", [](Config& c, const std::string& v) { c.public_host = parseName(v); }},
      {"image", [](Config& c, const std::string& v) { c.image = parseName(v); }},
      {"container_port",
       [](Config& c, const std::string& v) {
         c.container_port = parseNumber<std::uint16_t>(v, 1, 65535);
       }},
      {"memory_mb",
       [](Config& c, const std::string& v) {
         c.memory_mb = parseNumber<std::int64_t>(v, 6, 1 << 20);
       }},
      {"cpus", [](Config& c, const std::string& v) { c.cpus = parseNumber(v, 0.01, 1024.0); }},
      {"pids_limit",
       [](Config& c, const std::string& v) {
         c.pids_limit = parseNumber<std::int64_t>(v, 1, 1 << 22);
       }},
      {"ready_timeout",
       [](Config& c, const std::string& v) { c.ready_timeout = parseNumber(v, 1, 3600); }},
      {"docker_timeout",
       [](Config& c, const std::string& v) { c.docker_timeout = parseNumber(v, 1, 3600); }},
      {"htpasswd", [](Config& c, const std::string& v) { c.htpasswd = parsePath(v); }},
      {"admin_token_file",
       [](Config& c, const std::string& v) { c.admin_token_file = parsePath(v); }},
      {"cookie_secure", [](Config& c, const std::string& v) { c.cookie_secure = parseBool(v); }},
      {"idle_timeout",
       [](Config& c, const std::string& v) { c.idle_timeout = parseNumber(v, 1, 1 << 30); }},
      {"max_lifetime",
       [](Config& c, const std::string& v) { c.max_lifetime = parseNumber(v, 1, 1 << 30); }},
      {"spawn_timeout",
       [](Config& c, const std::string& v) { c.spawn_timeout = parseNumber(v, 1, 86400); }},
      {"port_block",
       [](Config& c, const std::string& v) { c.port_block = parseNumber(v, 0, 86400); }},
  };
  return table;
}

}  // namespace

Config parse(const std::string& text, const std::string& origin) {
  Config config;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  std::map<std::string, int> line_of_key;

  while (std::getline(lines, line)) {
    ++number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;

    const std::string where = origin + ":" + std::to_string(number);
    const auto equals = line.find('=');
    if (equals == std::string::npos) {
      throw ConfigError(where + ": expected `key = value`, got \"" + line + "\"");
    }
    const std::string key = trim(line.substr(0, equals));
    const std::string value = trim(line.substr(equals + 1));

    const auto setter = setters().find(key);
    if (setter == setters().end()) {
      throw ConfigError(where + ": unknown key \"" + key + "\"; the README lists every key");
    }
    const auto [first, inserted] = line_of_key.emplace(key, number);
    if (!inserted) {
      throw ConfigError(where + ": duplicate key \"" + key + "\", set already on line " +
                        std::to_string(first->second) + "; keep one of the two lines");
    }
    try {
      setter->second(config, value);
    } catch (const std::invalid_argument& error) {
      throw ConfigError(where + ": invalid value \"" + value + "\" for " + key + ": " +
                        error.what());
    }
  }

  if (config.port_min > config.port_max) {
    throw ConfigError(origin + ": port_min " + std::to_string(config.port_min) +
                      " is above port_max " + std::to_string(config.port_max));
  }
  return config;
}

Config load(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw ConfigError("cannot read config file " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << file.rdbuf();
  return parse(text.str(), path);
}

}  // namespace berth::config
