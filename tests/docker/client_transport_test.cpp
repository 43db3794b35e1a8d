// Tests of docker::Client's transport errors and version negotiation. They
// need no dockerd: the socket is missing, refuses connections, or belongs to
// a fake engine. The fake replaces dockerd only for faults the real engine
// cannot be made to produce: silence, bodies that are not HTTP or not JSON,
// a removal already in progress and other API versions.

#include "docker/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace berth::docker {
namespace {

// A temporary folder for test sockets, removed with its contents.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    char pattern[] = "/tmp/berth-docker-socket-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Returns a unix socket bound to path, or -1.
int bindUnixSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -1;

  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    close(fd);
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);

  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string httpResponse(int status, const std::string& extra_headers, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " Fake\r\n" + extra_headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// A fake Docker engine on a unix socket, serving one request per connection.
// respond maps a request line such as "GET /_ping HTTP/1.1" to a raw HTTP
// response, or to nothing to keep the connection open without responding.
class FakeEngine {
 public:
  using Responder = std::function<std::optional<std::string>(const std::string& request_line)>;

  explicit FakeEngine(Responder respond) : respond_(std::move(respond)) {
    socket_path_ = (folder_.path() / "fake-docker.sock").string();
    listen_fd_ = bindUnixSocket(socket_path_);
    if (listen_fd_ < 0 || listen(listen_fd_, 8) != 0 || pipe(stop_pipe_) != 0) return;

    thread_ = std::thread([this] { serve(); });
  }

  ~FakeEngine() {
    if (thread_.joinable()) {
      char byte = 0;
      [[maybe_unused]] ssize_t written = write(stop_pipe_[1], &byte, 1);
      thread_.join();
    }
    for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;

  bool running() const { return thread_.joinable(); }
  const std::string& socketPath() const { return socket_path_; }

  std::vector<std::string> requestLines() {
    std::lock_guard lock(mutex_);
    return request_lines_;
  }

 private:
  // Waits until fd is readable. Returns false when the test asked the fake to
  // stop.
  bool waitReadable(int fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    while (poll(fds, 2, -1) < 0) {
      if (errno != EINTR) return false;
    }
    return (fds[1].revents & POLLIN) == 0;
  }

  // Reads up to the end of the request headers. Returns "" when the client
  // closed first and nothing when the test asked the fake to stop. A request
  // body is left unread because no reply here depends on it.
  std::optional<std::string> readRequestHead(int fd) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (!waitReadable(fd)) return std::nullopt;
      ssize_t count = read(fd, buffer, sizeof buffer);
      if (count <= 0) return "";
      head.append(buffer, count);
    }
    return head;
  }

  void serve() {
    std::vector<int> silent_connections;

    while (waitReadable(listen_fd_)) {
      int connection = accept(listen_fd_, nullptr, nullptr);
      if (connection < 0) continue;

      std::optional<std::string> head = readRequestHead(connection);
      if (!head) {
        close(connection);
        break;
      }
      if (head->empty()) {
        close(connection);
        continue;
      }

      std::string request_line = head->substr(0, head->find("\r\n"));
      {
        std::lock_guard lock(mutex_);
        request_lines_.push_back(request_line);
      }

      std::optional<std::string> response = respond_(request_line);
      if (!response) {
        silent_connections.push_back(connection);
        continue;
      }

      [[maybe_unused]] ssize_t written = write(connection, response->data(), response->size());
      close(connection);
    }

    for (int fd : silent_connections) close(fd);
  }

  TemporaryFolder folder_;
  Responder respond_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> request_lines_;
};

// Responds to /_ping with the given Api-Version header and to every other
// request with other_response.
FakeEngine::Responder pingThen(const std::string& api_version, std::string other_response) {
  return [api_version, other_response](const std::string& request_line) {
    if (request_line.rfind("GET /_ping ", 0) == 0) {
      std::string header = api_version.empty() ? "" : "Api-Version: " + api_version + "\r\n";
      return std::optional<std::string>(httpResponse(200, header, "OK"));
    }
    return std::optional<std::string>(other_response);
  };
}

TEST(ClientTransportTest, MissingSocketIsTransportError) {
  TemporaryFolder folder;
  ASSERT_FALSE(folder.path().empty());
  std::string socket_path = (folder.path() / "missing.sock").string();
  Client client{ClientOptions{.socket_path = socket_path}};

  try {
    client.ping();
    FAIL() << "ping on missing socket " << socket_path << " did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Transport);
    EXPECT_TRUE(error.engineUnavailable());
    EXPECT_EQ(error.status(), 0);
    EXPECT_EQ(error.operation(), "ping");
    EXPECT_NE(std::string(error.what()).find(socket_path), std::string::npos) << error.what();
  }
}

TEST(ClientTransportTest, FirstCallReportsItsOwnOperation) {
  TemporaryFolder folder;
  ASSERT_FALSE(folder.path().empty());
  Client client{ClientOptions{.socket_path = (folder.path() / "missing.sock").string()}};

  try {
    client.inspect("some-container");
    FAIL() << "inspect on a missing socket did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Transport);
    EXPECT_EQ(error.operation(), "inspect container");
    EXPECT_EQ(std::string(error.what()).rfind("inspect container failed: ", 0), 0u) << error.what();
  }
}

TEST(ClientTransportTest, RefusedSocketIsTransportError) {
  TemporaryFolder folder;
  ASSERT_FALSE(folder.path().empty());
  std::string socket_path = (folder.path() / "refusing.sock").string();

  // Bound but never listening, so connect(2) fails with ECONNREFUSED.
  int fd = bindUnixSocket(socket_path);
  ASSERT_GE(fd, 0) << "cannot bind " << socket_path;
  Client client{ClientOptions{.socket_path = socket_path}};

  try {
    client.ping();
    ADD_FAILURE() << "ping on refusing socket " << socket_path << " did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Transport);
    EXPECT_TRUE(error.engineUnavailable());
  }
  close(fd);
}

TEST(ClientTransportTest, SilentFakeEngineTimesOut) {
  FakeEngine engine([](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath(), .timeout_ms = 200}};

  try {
    client.ping();
    FAIL() << "ping on a fake engine that never answers did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Timeout) << error.what();
    EXPECT_TRUE(error.engineUnavailable());
  }
}

TEST(ClientTransportTest, FakeEngineInvalidJsonIsProtocolError) {
  FakeEngine engine(pingThen("1.41", httpResponse(200, "", "{\"Id\": ")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  try {
    client.inspect("some-container");
    FAIL() << "inspect with a truncated JSON body did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol) << error.what();
    EXPECT_FALSE(error.engineUnavailable());
    EXPECT_EQ(error.operation(), "inspect container");
  }
}

TEST(ClientTransportTest, FakeEngineNonHttpIsProtocolError) {
  FakeEngine engine(
      [](const std::string&) { return std::optional<std::string>("this is not HTTP\r\n\r\n"); });
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  try {
    client.ping();
    FAIL() << "ping with a non-HTTP answer did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol) << error.what();
  }
}

TEST(ClientTransportTest, FakeEngineErrorWithoutJsonKeepsRawBody) {
  FakeEngine engine(pingThen("1.41", httpResponse(500, "", "plain failure text\n")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  try {
    client.start("some-container");
    FAIL() << "start answered with 500 did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Status);
    EXPECT_EQ(error.status(), 500);
    EXPECT_EQ(error.dockerMessage(), "plain failure text");
    EXPECT_FALSE(error.portConflict());
    EXPECT_STREQ(error.what(), "start container failed: HTTP 500: plain failure text");
  }
}

TEST(ClientTransportTest, FakeRemovalInProgressIsSuccess) {
  FakeEngine engine(pingThen(
      "1.41",
      httpResponse(409, "",
                   R"({"message":"removal of container some-container is already in progress"})")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  EXPECT_NO_THROW(client.remove("some-container"));

  std::vector<std::string> lines = engine.requestLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "DELETE /v1.41/containers/some-container?force=true&v=true HTTP/1.1");
}

TEST(ClientTransportTest, FakeRemovalOtherConflictThrows) {
  FakeEngine engine(pingThen("1.41", httpResponse(409, "", R"({"message":"something else"})")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  try {
    client.remove("some-container");
    FAIL() << "remove answered with an unrelated 409 did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.conflict()) << error.what();
    EXPECT_EQ(error.operation(), "remove container");
  }
}

TEST(ClientTransportTest, NewerEngineVersionIsCapped) {
  FakeEngine engine(pingThen("1.50", httpResponse(200, "", "[]")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  EXPECT_EQ(client.ping(), "1.47");

  EXPECT_TRUE(client.list({{"io.berth.managed", "1"}}).empty());
  std::vector<std::string> lines = engine.requestLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1],
            "GET /v1.47/containers/json?all=true&filters="
            "%7B%22label%22%3A%5B%22io.berth.managed%3D1%22%5D%7D HTTP/1.1");
}

TEST(ClientTransportTest, OlderEngineVersionIsKept) {
  FakeEngine engine(pingThen("1.40", httpResponse(200, "", "[]")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  EXPECT_EQ(client.ping(), "1.40");
}

TEST(ClientTransportTest, FirstCallPingsOnce) {
  FakeEngine engine(pingThen("1.41", httpResponse(200, "", "[]")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  client.list({{"io.berth.managed", ""}});
  client.list({{"io.berth.managed", ""}});

  std::vector<std::string> lines = engine.requestLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "GET /_ping HTTP/1.1");
  EXPECT_EQ(lines[1].rfind("GET /v1.41/containers/json?", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("GET /v1.41/containers/json?", 0), 0u) << lines[2];
}

TEST(ClientTransportTest, MissingApiVersionIsProtocolError) {
  FakeEngine engine(pingThen("", httpResponse(200, "", "[]")));
  ASSERT_TRUE(engine.running());
  Client client{ClientOptions{.socket_path = engine.socketPath()}};

  try {
    client.ping();
    FAIL() << "ping without an Api-Version header did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol) << error.what();
    EXPECT_NE(error.dockerMessage().find("Api-Version"), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::docker
