#include "tests/support/stack.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "lifecycle/probe.hpp"

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string sourceDir() {
  const char* dir = std::getenv("BERTH_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string berthBinary() {
  const char* binary = std::getenv("BERTH_BINARY");
  return binary != nullptr ? binary : sourceDir() + "/build/berth";
}

std::string readFile(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  if (!file) throw std::runtime_error("cannot write " + path);
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path,
            const std::vector<std::string>& environment = {}) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    for (const auto& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Sends SIGTERM and waits up to `grace` for the process to exit, then SIGKILL.
void terminate(pid_t pid, std::chrono::seconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

std::size_t collectHeader(char* data, std::size_t size, std::size_t count, void* target) {
  auto* response = static_cast<HttpResponse*>(target);
  std::string line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (name == "set-cookie") response->set_cookies.push_back(value);
    response->headers[name] = value;
  }
  return size * count;
}

}  // namespace

std::string HttpResponse::sessionCookie() const {
  for (const auto& cookie : set_cookies) {
    if (cookie.rfind("berth_session=", 0) != 0) continue;
    const auto end = cookie.find(';');
    return cookie.substr(14, end == std::string::npos ? std::string::npos : end - 14);
  }
  return "";
}

HttpResponse http(const std::string& method, const std::string& url, const std::string& body,
                  const std::vector<std::string>& headers) {
  HttpResponse response;
  CURL* curl = curl_easy_init();
  curl_slist* header_list = nullptr;
  for (const auto& header : headers) header_list = curl_slist_append(header_list, header.c_str());

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");

  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) response.error = curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return response;
}

HttpResponse login(const Stack& stack, const std::string& user, const std::string& password) {
  return http("POST", stack.url("/login"),
              "{\"user\":\"" + user + "\",\"password\":\"" + password + "\"}",
              {"Content-Type: application/json"});
}

HttpResponse getSession(const Stack& stack, const std::string& token) {
  return http("GET", stack.url("/api/session"), "", {"Cookie: berth_session=" + token});
}

docker::Client& testDocker() {
  thread_local docker::Client client(docker::ClientOptions{});
  return client;
}

void requireDocker() {
  try {
    testDocker().ping();
  } catch (const docker::Error& error) {
    throw std::runtime_error(std::string("dockerd is not reachable at /var/run/docker.sock (") +
                             error.what() +
                             "); start it with `scripts/start-dockerd.sh` (or `dockerd &`) and "
                             "run `make test` again");
  }
}

std::uint16_t findFreePortRange(int count) {
  std::mt19937 random(static_cast<unsigned>(::getpid()) ^
                      static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> base_of(20000, 50000);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int base = base_of(random);
    bool all_free = true;
    for (int port = base; port < base + count && all_free; ++port) {
      all_free = lifecycle::portFree("127.0.0.1", static_cast<std::uint16_t>(port)) &&
                 lifecycle::portFree("0.0.0.0", static_cast<std::uint16_t>(port));
    }
    if (all_free) return static_cast<std::uint16_t>(base);
  }
  throw std::runtime_error("no run of free loopback ports found");
}

std::string faultLibrary() {
  const std::string binary = berthBinary();
  return binary.substr(0, binary.rfind('/')) + "/libberth_faults.so";
}

int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Stack::Stack(StackOptions options) : options_(std::move(options)) {
  requireDocker();

  static std::atomic<int> counter{0};
  segment_ = "berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  char dir_template[] = "/tmp/berth-test-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  admin_token_ = "test-admin-" + segment_;

  try {
    std::string users;
    for (const auto& user : options_.users) {
      if (shell("htpasswd -B -b -C 5 " + std::string(users.empty() ? "-c " : "") + dir_ +
                "/htpasswd '" + user.name + "' '" + user.password + "' 2>/dev/null") != 0) {
        throw std::runtime_error("htpasswd failed; install apache2-utils (make deps)");
      }
      users += user.name;
    }
    writeFile(dir_ + "/admin-token", admin_token_ + "\n");

    port_min_ = findFreePortRange(options_.port_count);
    port_max_ = static_cast<std::uint16_t>(port_min_ + options_.port_count - 1);
    config_path_ = dir_ + "/berth.conf";
    writeFile(config_path_,
              "listen = " + dir_ + "/berth.sock\n" + "segment = " + segment_ + "\n" +
                  "htpasswd = " + dir_ + "/htpasswd\n" + "admin_token_file = " + dir_ +
                  "/admin-token\n" + "port_min = " + std::to_string(port_min_) + "\n" +
                  "port_max = " + std::to_string(port_max_) + "\n" +
                  "workers = " + std::to_string(options_.workers) + "\n" +
                  "threads = " + std::to_string(options_.threads) + "\n" + options_.extra_config);

    startBerth();
    startNginx();
    waitHealthy();
  } catch (...) {
    cleanup();
    throw;
  }
}

void Stack::startBerth() {
  berth_pid_ = spawn({berthBinary(), "serve", "--config", config_path_}, dir_ + "/berth.log",
                     options_.berth_environment);
}

void Stack::startNginx() {
  nginx_port_ = freePort();
  const std::string locations =
      replaceAll(readFile(sourceDir() + "/nginx-conf/berth-locations.conf"),
                 "unix:/run/berth/berth.sock", "unix:" + dir_ + "/berth.sock");
  writeFile(dir_ + "/berth-locations.conf", locations);
  std::string conf = readFile(sourceDir() + "/nginx-conf/demo-nginx.conf.in");
  conf = replaceAll(conf, "@LISTEN@", "127.0.0.1:" + std::to_string(nginx_port_));
  conf = replaceAll(conf, "@LOCATIONS@", dir_ + "/berth-locations.conf");
  ::mkdir((dir_ + "/nginx").c_str(), 0755);
  writeFile(dir_ + "/nginx/nginx.conf", conf);
  nginx_pid_ = spawn({"/usr/sbin/nginx", "-p", dir_ + "/nginx/", "-c", dir_ + "/nginx/nginx.conf",
                      "-g", "daemon off;"},
                     dir_ + "/nginx.log");
}

void Stack::waitHealthy() {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  HttpResponse last;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(berth_pid_, &status, WNOHANG) == berth_pid_) {
      berth_pid_ = -1;
      throw std::runtime_error("berth serve exited at start; its log:\n" + berthLog());
    }
    last = http("GET", url("/healthz"));
    if (last.status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("the stack did not become healthy in 20 s; last answer " +
                           std::to_string(last.status) + " " + last.body + "\nberth log:\n" +
                           berthLog() + "\nnginx log:\n" + readFile(dir_ + "/nginx.log") +
                           readFile(dir_ + "/nginx/error.log"));
}

Stack::~Stack() { cleanup(); }

void Stack::cleanup() {
  terminate(nginx_pid_, std::chrono::seconds(5));
  nginx_pid_ = -1;
  terminate(berth_pid_, std::chrono::seconds(60));
  berth_pid_ = -1;

  // Whatever the pool left behind, the test removes: it created it.
  try {
    for (const auto& container : containers()) testDocker().remove(container.id);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cleanup of pool %s failed: %s\n", segment_.c_str(), error.what());
  }
  if (!segment_.empty()) ::unlink(("/dev/shm/" + segment_).c_str());

  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- berth log of %s ----\n%s---- end ----\n", segment_.c_str(),
                 berthLog().c_str());
  }
  if (!dir_.empty()) shell("rm -rf '" + dir_ + "'");
  dir_.clear();
}

std::string Stack::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(nginx_port_) + path;
}

int Stack::runBerth(const std::string& command, std::string* output) const {
  const std::string output_path = dir_ + "/command.log";
  const int status = shell(berthBinary() + " " + command + " --config " + config_path_ + " >" +
                           output_path + " 2>&1");
  const std::string text = readFile(output_path);
  if (output != nullptr) *output = text;
  std::fprintf(stderr, "berth %s (exit %d):\n%s", command.c_str(), status, text.c_str());
  return status;
}

int Stack::stopBerth(int signal) {
  int status = 0;
  ::kill(berth_pid_, signal);
  ::waitpid(berth_pid_, &status, 0);
  berth_pid_ = -1;
  return status;
}

std::string Stack::berthLog() const { return readFile(dir_ + "/berth.log"); }

std::vector<docker::Container> Stack::containers() const {
  return testDocker().list({{"io.berth.managed", "true"}, {"io.berth.pool", segment_}});
}

}  // namespace berth::testing
