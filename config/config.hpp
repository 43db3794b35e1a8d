#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace berth::config {

// Raised for an unreadable file, an unknown or repeated key or a value out of
// range. what() names the file, line, key and the accepted values.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultPath = "/etc/berth/berth.conf";

// Every key of the config file, with its default. The file contains one
// `key = value` per line; `#` starts a comment.
struct Config {
  std::string listen = "/run/berth/berth.sock";  // FastCGI unix socket
  int socket_mode = 0660;                        // octal in the file
  std::string docker_socket = "/var/run/docker.sock";
  // Shared memory name, io.berth.pool label and part of container names.
  std::string segment = "berth";
  int workers = 0;  // worker processes; 0 = number of cores
  int threads = 8;  // request threads per worker
  std::uint16_t port_min = 8000;
  std::uint16_t port_max = 9000;           // inclusive
  std::string bind_address = "127.0.0.1";  // IP address containers publish on
  std::string public_host = "127.0.0.1";   // host name put into the workspace URL
  std::string image = "berth/workspace:latest";
  std::uint16_t container_port = 4200;
  std::int64_t memory_mb = 256;
  double cpus = 1.0;
  std::int64_t pids_limit = 256;
  int ready_timeout = 30;   // seconds a login waits for the container to respond to HTTP
  int docker_timeout = 60;  // seconds one Engine API call may take
  std::string htpasswd = "/etc/berth/htpasswd";
  std::string admin_token_file = "/etc/berth/admin-token";
  bool cookie_secure = false;  // adds Secure to the cookie; set it behind TLS
  int idle_timeout = 3600;     // seconds without a request before the sweep reaps
  int max_lifetime = 86400;    // seconds after login before the sweep reaps
  int spawn_timeout = 120;     // seconds a session may stay "starting"
  int port_block = 60;         // seconds a port held by another process is skipped
};

// Reads the file at `path`. Throws ConfigError.
Config load(const std::string& path);

// Parses config text; `origin` names it in error messages. Throws ConfigError.
Config parse(const std::string& text, const std::string& origin);

}  // namespace berth::config
