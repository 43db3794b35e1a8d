#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::docker {

// A failed Engine API call. Keeps Docker's HTTP status and message.
class Error : public std::runtime_error {
 public:
  enum class Kind {
    Transport,  // socket missing, connection refused or reset: the engine is away
    Timeout,    // connect or call timeout expired
    Status,     // the engine returned a non-2xx status
    Protocol,   // the engine's response could not be parsed
  };

  Error(Kind kind, std::string operation, long status, std::string docker_message);

  Kind kind() const { return kind_; }
  const std::string& operation() const { return operation_; }  // e.g. "create container"
  long status() const { return status_; }                      // 0 unless Kind::Status
  const std::string& dockerMessage() const { return docker_message_; }

  bool notFound() const { return kind_ == Kind::Status && status_ == 404; }
  bool conflict() const { return kind_ == Kind::Status && status_ == 409; }
  // Start failed because the host port is taken: "port is already allocated"
  // (another container) or "address already in use" (another process).
  bool portConflict() const;
  // The engine could not be reached or did not respond in time.
  bool engineUnavailable() const { return kind_ == Kind::Transport || kind_ == Kind::Timeout; }

 private:
  Kind kind_;
  std::string operation_;
  long status_;
  std::string docker_message_;
};

struct ContainerSpec {
  std::string name;  // Docker container name; optional
  std::string image;
  std::map<std::string, std::string> labels;
  std::vector<std::string> env;  // "KEY=value"
  std::string host_ip = "127.0.0.1";
  std::uint16_t host_port = 0;
  std::uint16_t container_port = 0;  // TCP
  std::int64_t memory_bytes = 0;     // 0 = no limit
  std::int64_t nano_cpus = 0;        // 1e9 = one CPU; 0 = no limit
  std::int64_t pids_limit = 0;       // 0 = no limit
};

struct Container {
  std::string id;
  std::string name;   // without the leading '/'
  std::string state;  // "created", "running", "exited", "removing", ...
  std::map<std::string, std::string> labels;
  std::uint16_t host_port = 0;  // first published TCP port, 0 if none
  std::int64_t created = 0;     // unix seconds
};

struct ClientOptions {
  std::string socket_path = "/var/run/docker.sock";
  long connect_timeout_ms = 2000;
  long timeout_ms = 30000;  // whole call, connect included
};

// A Docker Engine API client over the unix socket (libcurl, RapidJSON).
// One Client per thread: it owns one curl easy handle and keeps the
// connection open between calls. Every method throws Error on failure, and
// std::invalid_argument for an empty id, an empty label filter or a host
// port without a container port, which are caller bugs.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Calls GET /_ping and picks the API version: the engine's, capped at the
  // newest version berth was written for (1.47). Called by the first other
  // call when not called before. Returns the version, e.g. "1.41".
  std::string ping();

  // POST /containers/create with a restart policy of "no", no volumes and no
  // bind mounts. Returns the new container's id.
  std::string create(const ContainerSpec& spec);

  // POST /containers/{id}/start. A 304 (already started) is success.
  void start(const std::string& id);

  // GET /containers/{id}/json.
  Container inspect(const std::string& id_or_name);

  // DELETE /containers/{id}?force=true&v=true. 404 and 409 "removal already
  // in progress" count as success: the container is gone or going.
  void remove(const std::string& id);

  // GET /containers/json?all=true with a label filter: each entry is matched
  // as "key=value", or as "key" alone when the value is empty.
  std::vector<Container> list(const std::map<std::string, std::string>& labels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// curl_global_init; call once in main() before any thread starts.
void globalInit();

}  // namespace berth::docker
