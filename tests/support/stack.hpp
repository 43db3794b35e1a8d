#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "docker/client.hpp"

namespace berth::testing {

// A user of the test stack's htpasswd file.
struct TestUser {
  std::string name;
  std::string password;
};

struct StackOptions {
  std::vector<TestUser> users = {{"alice", "alice-pass"}, {"bob", "bob-pass"}};
  int port_count = 40;  // size of the port range
  int workers = 2;
  int threads = 8;
  std::string extra_config;                    // more `key = value` lines
  std::vector<std::string> berth_environment;  // more "NAME=value" for `berth serve`
};

// A private berth stack for one test: a temporary folder with htpasswd, admin
// token and config, a `berth serve` pool on its own segment and socket, and a
// private nginx on a free loopback port in front of it. Its containers carry
// io.berth.pool=<segment>, unique per stack. The destructor stops both
// servers and removes every container of the pool and the folder, also when
// the test failed; then it prints berth's log.
class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  std::string url(const std::string& path) const;  // through nginx
  const std::string& segment() const { return segment_; }
  const std::string& adminToken() const { return admin_token_; }
  const std::string& configPath() const { return config_path_; }
  const std::string& dir() const { return dir_; }
  std::uint16_t portMin() const { return port_min_; }
  std::uint16_t portMax() const { return port_max_; }
  pid_t berthPid() const { return berth_pid_; }
  std::string berthLog() const;

  // Runs `berth COMMAND --config CONFIG` and returns its exit status; its
  // output goes to `output` when given.
  int runBerth(const std::string& command, std::string* output = nullptr) const;

  // Sends `signal` to `berth serve`, waits for it to exit and returns its wait
  // status; the stack then has no pool running.
  int stopBerth(int signal);

  // Every container of this stack's pool, as the engine lists it.
  std::vector<docker::Container> containers() const;

 private:
  void startBerth();
  void startNginx();
  void waitHealthy();
  void cleanup();

  StackOptions options_;
  std::string dir_;
  std::string segment_;
  std::string admin_token_;
  std::string config_path_;
  std::uint16_t port_min_ = 0;
  std::uint16_t port_max_ = 0;
  std::uint16_t nginx_port_ = 0;
  pid_t berth_pid_ = -1;
  pid_t nginx_pid_ = -1;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
  std::vector<std::string> set_cookies;
  std::string error;  // curl's error when the request failed

  // The value of the berth_session cookie the response sets, or "".
  std::string sessionCookie() const;
};

// Sends one HTTP request with libcurl. `headers` are "Name: value" lines.
HttpResponse http(const std::string& method, const std::string& url, const std::string& body = "",
                  const std::vector<std::string>& headers = {});

// GET /api/session with the session token as the berth_session cookie.
HttpResponse getSession(const Stack& stack, const std::string& token);

// POST /login with a JSON body.
HttpResponse login(const Stack& stack, const std::string& user, const std::string& password);

// Throws, with instructions, when dockerd does not respond; the calling test
// then fails.
void requireDocker();

// A docker::Client on the default socket.
docker::Client& testDocker();

// Returns the first port of `count` consecutive loopback ports that are free.
std::uint16_t findFreePortRange(int count);

// The path of the test-only fault library (tests/support/fault_preload.c),
// built next to the berth binary.
std::string faultLibrary();

// Runs a command through /bin/sh and returns its exit status.
int shell(const std::string& command);

}  // namespace berth::testing
