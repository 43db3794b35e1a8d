// Tests of docker::Client against the real dockerd on /var/run/docker.sock.
// Each test labels its containers io.berth.test-run=<pid>-<random> and removes
// them by that label in TearDown, so it touches no container it did not make.

#include "docker/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace berth::docker {
namespace {

constexpr char kImage[] = "berth-test/busybox:latest";
constexpr char kRunLabel[] = "io.berth.test-run";
constexpr char kImageLabel[] = "io.berth.test";  // set by the image, so every container has it
constexpr std::uint16_t kContainerPort = 8080;
constexpr char kStartHint[] =
    "Start it with scripts/start-dockerd.sh, or with: dockerd >/var/log/dockerd.log 2>&1 & "
    "and wait until `docker info` succeeds.";

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult runCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed for: " + command;
    return result;
  }

  char buffer[4096];
  std::size_t count = 0;
  while ((count = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, count);

  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Builds kImage offline: FROM scratch with the static busybox of the
// busybox-static package, serving /www over HTTP on kContainerPort.
// Returns an error message, or "" on success.
std::string buildTestImage() {
  char pattern[] = "/tmp/berth-docker-image-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return "mkdtemp failed for the image build folder";
  std::filesystem::path folder = pattern;

  std::error_code error;
  std::filesystem::copy_file("/bin/busybox", folder / "busybox", error);
  if (error) {
    std::filesystem::remove_all(folder);
    return "cannot copy /bin/busybox (install busybox-static): " + error.message();
  }

  std::filesystem::create_directory(folder / "www");
  std::ofstream(folder / "www" / "index.html") << "berth test container\n";
  std::ofstream(folder / "Dockerfile") << "FROM scratch\n"
                                       << "COPY busybox /bin/busybox\n"
                                       << "COPY www /www\n"
                                       << "LABEL " << kImageLabel << "=1\n"
                                       << "EXPOSE " << kContainerPort << "\n"
                                       << "CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \""
                                       << kContainerPort << "\", \"-h\", \"/www\"]\n";

  CommandResult build =
      runCommand(std::string("docker build -q -t ") + kImage + " " + folder.string());
  std::filesystem::remove_all(folder);

  if (build.exit_code != 0) {
    return "docker build of " + std::string(kImage) + " failed: " + build.output;
  }
  return "";
}

// Builds the image once per process and returns the build's error, if any.
const std::string& testImageError() {
  static const std::string error = buildTestImage();
  return error;
}

std::string uniqueRunId() {
  std::random_device random;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", random());
  return std::to_string(getpid()) + "-" + suffix;
}

// Returns N of an API version "1.N", or -1 for any other text.
int minorApiVersion(const std::string& version) {
  if (version.rfind("1.", 0) != 0 || version.size() == 2) return -1;
  if (version.find_first_not_of("0123456789", 2) != std::string::npos) return -1;
  return std::stoi(version.substr(2));
}

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;

  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;

  std::uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// A socket listening on 127.0.0.1 at a free port, standing for a process
// that berth does not know about.
class HeldPort {
 public:
  HeldPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);

    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;

    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        listen(fd_, 1) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }

  ~HeldPort() {
    if (fd_ >= 0) close(fd_);
  }

  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;

  std::uint16_t port() const { return port_; }  // 0 if the socket could not listen

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Sends "GET /" to 127.0.0.1:port and returns the whole response, or "" when
// the connection fails or closes without data.
std::string fetchLoopback(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";

  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);

  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t count = 0;
      while ((count = read(fd, buffer, sizeof buffer)) > 0) response.append(buffer, count);
    }
  }
  close(fd);
  return response;
}

// The value of `docker inspect --format FORMAT id`, without the final newline.
std::string inspectWithCli(const std::string& id, const std::string& format) {
  CommandResult result = runCommand("docker inspect --format '" + format + "' " + id);
  if (result.exit_code != 0) return "docker inspect failed: " + result.output;
  while (!result.output.empty() && result.output.back() == '\n') result.output.pop_back();
  return result.output;
}

class DockerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<Client>(ClientOptions{});

    try {
      client_->ping();
    } catch (const Error& error) {
      engine_reachable_ = false;
      if (error.engineUnavailable()) {
        FAIL() << "The Docker tests need dockerd on /var/run/docker.sock (" << error.what() << "). "
               << kStartHint;
      }
      FAIL() << "dockerd at /var/run/docker.sock answered the ping with an error: " << error.what();
    }

    ASSERT_EQ(testImageError(), "");

    run_id_ = uniqueRunId();
  }

  // Removes every container carrying this test's run label, even after a
  // failed assertion.
  void TearDown() override {
    if (!engine_reachable_ || run_id_.empty()) return;

    try {
      Client cleaner{ClientOptions{}};
      for (const Container& container : cleaner.list({{kRunLabel, run_id_}})) {
        cleaner.remove(container.id);
      }
    } catch (const Error& error) {
      ADD_FAILURE() << "cleanup of containers labelled " << kRunLabel << "=" << run_id_
                    << " failed: " << error.what();
    }
  }

  // A spec for this test's container named by suffix, publishing
  // kContainerPort on 127.0.0.1:host_port.
  ContainerSpec makeSpec(const std::string& suffix, std::uint16_t host_port) const {
    ContainerSpec spec;
    spec.name = "berth-test-" + run_id_ + "-" + suffix;
    spec.image = kImage;
    spec.labels = {{kRunLabel, run_id_}};
    spec.host_ip = "127.0.0.1";
    spec.host_port = host_port;
    spec.container_port = kContainerPort;
    return spec;
  }

  std::unique_ptr<Client> client_;
  bool engine_reachable_ = true;
  std::string run_id_;
};

TEST_F(DockerClientTest, PingReturnsNegotiatedVersion) {
  std::string version = client_->ping();

  int minor = minorApiVersion(version);
  ASSERT_GE(minor, 0) << "ping returned \"" << version << "\", not 1.N";
  EXPECT_LE(minor, 47) << "berth's newest API version is 1.47";

  CommandResult engine = runCommand("docker version --format '{{.Server.APIVersion}}'");
  ASSERT_EQ(engine.exit_code, 0) << engine.output;
  std::string engine_version = engine.output.substr(0, engine.output.find('\n'));
  int engine_minor = minorApiVersion(engine_version);
  ASSERT_GE(engine_minor, 0) << "the docker CLI reported \"" << engine_version << "\"";
  EXPECT_EQ(minor, std::min(engine_minor, 47));
}

TEST_F(DockerClientTest, CreateStartInspectRunningContainer) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  ContainerSpec spec = makeSpec("running", port);
  spec.labels["io.berth.user"] = "alice";

  std::string id = client_->create(spec);
  ASSERT_FALSE(id.empty());
  client_->start(id);
  Container container = client_->inspect(id);

  EXPECT_EQ(container.id, id);
  EXPECT_EQ(container.name, spec.name);
  EXPECT_EQ(container.state, "running");
  std::map<std::string, std::string> expected_labels = spec.labels;
  expected_labels[kImageLabel] = "1";
  EXPECT_EQ(container.labels, expected_labels);
  EXPECT_EQ(container.host_port, port);
  EXPECT_LT(std::abs(container.created - static_cast<std::int64_t>(std::time(nullptr))), 3600)
      << "created " << container.created << " is not a recent unix time";

  EXPECT_EQ(
      inspectWithCli(id, "{{json .NetworkSettings.Ports}}"),
      "{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"" + std::to_string(port) + "\"}]}");

  // busybox httpd may need a moment after start to listen, so retry the
  // request a bounded number of times.
  std::string response;
  for (int attempt = 0; attempt < 50 && response.empty(); attempt++) {
    response = fetchLoopback(port);
    if (response.empty()) usleep(100 * 1000);
  }
  EXPECT_NE(response.find("berth test container"), std::string::npos)
      << "GET http://127.0.0.1:" << port << "/ returned: " << response;
}

TEST_F(DockerClientTest, InspectByNameFindsContainer) {
  ContainerSpec spec = makeSpec("by-name", 0);
  spec.container_port = 0;
  std::string id = client_->create(spec);

  Container container = client_->inspect(spec.name);

  EXPECT_EQ(container.id, id);
  EXPECT_EQ(container.state, "created");
  EXPECT_EQ(container.host_port, 0);
}

TEST_F(DockerClientTest, CreateSetsLimitsWithoutVolumes) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  ContainerSpec spec = makeSpec("limits", port);
  spec.env = {"GREETING=hello", "EMPTY="};
  spec.memory_bytes = 64 * 1024 * 1024;
  spec.nano_cpus = 500'000'000;
  spec.pids_limit = 64;

  std::string id = client_->create(spec);

  EXPECT_EQ(inspectWithCli(id, "{{.HostConfig.Memory}}"), "67108864");
  EXPECT_EQ(inspectWithCli(id, "{{.HostConfig.MemorySwap}}"), "67108864");
  EXPECT_EQ(inspectWithCli(id, "{{.HostConfig.NanoCpus}}"), "500000000");
  EXPECT_EQ(inspectWithCli(id, "{{.HostConfig.PidsLimit}}"), "64");
  EXPECT_EQ(inspectWithCli(id, "{{.HostConfig.RestartPolicy.Name}}"), "no");
  EXPECT_EQ(inspectWithCli(id, "{{json .HostConfig.Binds}}"), "null");
  EXPECT_EQ(inspectWithCli(id, "{{len .Mounts}}"), "0");
  EXPECT_EQ(
      inspectWithCli(id, "{{json .HostConfig.PortBindings}}"),
      "{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"" + std::to_string(port) + "\"}]}");

  std::string env = inspectWithCli(id, "{{json .Config.Env}}");
  EXPECT_NE(env.find("\"GREETING=hello\""), std::string::npos) << env;
  EXPECT_NE(env.find("\"EMPTY=\""), std::string::npos) << env;

  // Not started, so the port comes from HostConfig.PortBindings.
  Container container = client_->inspect(id);
  EXPECT_EQ(container.state, "created");
  EXPECT_EQ(container.host_port, port);
}

TEST_F(DockerClientTest, RemoveMakesInspectNotFound) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  std::string id = client_->create(makeSpec("removed", port));
  client_->start(id);

  client_->remove(id);

  try {
    client_->inspect(id);
    FAIL() << "inspect of removed container " << id << " did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.notFound()) << error.what();
    EXPECT_EQ(error.kind(), Error::Kind::Status);
    EXPECT_EQ(error.operation(), "inspect container");
  }
}

TEST_F(DockerClientTest, RemoveTwiceSucceeds) {
  std::string id = client_->create(makeSpec("twice", 0));

  client_->remove(id);

  EXPECT_NO_THROW(client_->remove(id));
}

TEST_F(DockerClientTest, StartTwiceSucceeds) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  std::string id = client_->create(makeSpec("started-twice", port));
  client_->start(id);

  EXPECT_NO_THROW(client_->start(id));

  EXPECT_EQ(client_->inspect(id).state, "running");
}

TEST_F(DockerClientTest, ListReturnsOnlyLabelledContainers) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  ContainerSpec first = makeSpec("first", port);
  first.labels["io.berth.test-group"] = "first";
  ContainerSpec second = makeSpec("second", 0);
  second.labels["io.berth.test-group"] = "second";
  ContainerSpec keyed = makeSpec("keyed", 0);
  std::string key_only_label = "io.berth.test-key-" + run_id_;
  keyed.labels[key_only_label] = "any value";

  std::string first_id = client_->create(first);
  std::string second_id = client_->create(second);
  std::string keyed_id = client_->create(keyed);
  client_->start(first_id);

  std::vector<Container> all = client_->list({{kRunLabel, run_id_}});
  std::set<std::string> all_ids;
  for (const Container& container : all) all_ids.insert(container.id);
  EXPECT_EQ(all_ids, (std::set<std::string>{first_id, second_id, keyed_id}));

  std::vector<Container> firsts =
      client_->list({{kRunLabel, run_id_}, {"io.berth.test-group", "first"}});
  ASSERT_EQ(firsts.size(), 1u);
  EXPECT_EQ(firsts[0].id, first_id);
  EXPECT_EQ(firsts[0].name, first.name);
  EXPECT_EQ(firsts[0].state, "running");
  std::map<std::string, std::string> expected_labels = first.labels;
  expected_labels[kImageLabel] = "1";
  EXPECT_EQ(firsts[0].labels, expected_labels);
  EXPECT_EQ(firsts[0].host_port, port);
  EXPECT_LT(std::abs(firsts[0].created - static_cast<std::int64_t>(std::time(nullptr))), 3600)
      << "created " << firsts[0].created << " is not a recent unix time";

  std::vector<Container> seconds =
      client_->list({{kRunLabel, run_id_}, {"io.berth.test-group", "second"}});
  ASSERT_EQ(seconds.size(), 1u);
  EXPECT_EQ(seconds[0].id, second_id);
  EXPECT_EQ(seconds[0].state, "created");
  EXPECT_EQ(seconds[0].host_port, 0);

  std::vector<Container> keyed_only = client_->list({{key_only_label, ""}});
  ASSERT_EQ(keyed_only.size(), 1u);
  EXPECT_EQ(keyed_only[0].id, keyed_id);

  EXPECT_TRUE(client_->list({{kRunLabel, run_id_ + "-none"}}).empty());
}

TEST_F(DockerClientTest, ListRejectsEmptyFilter) {
  EXPECT_THROW(client_->list({}), std::invalid_argument);
}

TEST_F(DockerClientTest, CreateMissingImageIsNotFound) {
  ContainerSpec spec = makeSpec("no-image", 0);
  spec.image = "berth-test/missing-" + run_id_ + ":none";

  try {
    client_->create(spec);
    FAIL() << "create with missing image " << spec.image << " did not throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Status);
    EXPECT_EQ(error.status(), 404);
    EXPECT_TRUE(error.notFound());
    EXPECT_NE(error.dockerMessage().find("No such image"), std::string::npos)
        << error.dockerMessage();
    EXPECT_EQ(
        std::string(error.what()).rfind("create container failed: HTTP 404: No such image", 0), 0u)
        << error.what();
  }
}

TEST_F(DockerClientTest, CreateDuplicateNameIsConflict) {
  ContainerSpec spec = makeSpec("duplicate", 0);
  client_->create(spec);

  try {
    client_->create(spec);
    FAIL() << "second create named " << spec.name << " did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.conflict()) << error.what();
    EXPECT_FALSE(error.portConflict());
    EXPECT_NE(error.dockerMessage().find("is already in use"), std::string::npos)
        << error.dockerMessage();
    EXPECT_NE(std::string(error.what()).find("create container failed: HTTP 409: Conflict."),
              std::string::npos)
        << error.what();
  }
}

TEST_F(DockerClientTest, StartOnHeldPortIsPortConflict) {
  HeldPort held_port;
  ASSERT_NE(held_port.port(), 0) << "cannot listen on 127.0.0.1";
  std::string id = client_->create(makeSpec("held-port", held_port.port()));

  try {
    client_->start(id);
    FAIL() << "start on 127.0.0.1:" << held_port.port() << ", held by this test, did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.portConflict()) << error.what();
    EXPECT_EQ(error.status(), 500);
    EXPECT_NE(error.dockerMessage().find("address already in use"), std::string::npos)
        << error.dockerMessage();
  }
}

TEST_F(DockerClientTest, StartOnAllocatedPortIsPortConflict) {
  std::uint16_t port = freeLoopbackPort();
  ASSERT_NE(port, 0);
  std::string owner_id = client_->create(makeSpec("port-owner", port));
  client_->start(owner_id);
  std::string id = client_->create(makeSpec("port-taker", port));

  try {
    client_->start(id);
    FAIL() << "start on 127.0.0.1:" << port << ", published by " << owner_id << ", did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.portConflict()) << error.what();
    EXPECT_NE(error.dockerMessage().find("port is already allocated"), std::string::npos)
        << error.dockerMessage();
  }
}

TEST_F(DockerClientTest, InspectMissingContainerIsNotFound) {
  try {
    client_->inspect("berth-test-missing-" + run_id_);
    FAIL() << "inspect of a missing container did not throw";
  } catch (const Error& error) {
    EXPECT_TRUE(error.notFound()) << error.what();
    EXPECT_FALSE(error.engineUnavailable());
  }
}

}  // namespace
}  // namespace berth::docker
