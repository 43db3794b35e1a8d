#include "docker/client.hpp"

#include <curl/curl.h>

#include <charconv>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "common/log.hpp"
#include "docker/http.hpp"
#include "docker/json.hpp"

namespace berth::docker {
namespace {

// The newest Engine API version berth was written for. A newer engine is
// spoken to in this version. It is above 1.44 because Docker Engine 29
// rejects older versions; the fields berth sends mean the same from 1.41 on.
constexpr int kNewestMajor = 1;
constexpr int kNewestMinor = 47;

std::string describe(Error::Kind kind, const std::string& operation, long status,
                     const std::string& message) {
  std::string text = operation + " failed: ";

  switch (kind) {
    case Error::Kind::Transport:
      text += "cannot reach the Docker engine: ";
      break;
    case Error::Kind::Timeout:
      text += "timed out: ";
      break;
    case Error::Kind::Status:
      text += "HTTP " + std::to_string(status) + ": ";
      break;
    case Error::Kind::Protocol:
      text += "invalid response from the Docker engine: ";
      break;
  }

  text += message.empty() ? "(no message)" : message;
  return text;
}

Error statusError(const std::string& operation, const HttpResponse& response) {
  return Error(Error::Kind::Status, operation, response.status, parseErrorMessage(response.body));
}

bool succeeded(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

void requireNotEmpty(const std::string& value, const char* value_name, const char* operation) {
  if (value.empty()) {
    throw std::invalid_argument(std::string(operation) + ": " + value_name + " must not be empty");
  }
}

// Picks the API version for "MAJOR.MINOR" sent by the engine: that version,
// or berth's newest one when the engine's is newer.
std::string negotiateVersion(const std::string& operation, const std::string& engine_version) {
  int major = 0;
  int minor = 0;
  const char* begin = engine_version.data();
  const char* end = begin + engine_version.size();

  auto [dot, major_error] = std::from_chars(begin, end, major);
  bool valid = major_error == std::errc() && dot != end && *dot == '.';
  if (valid) {
    auto [minor_end, minor_error] = std::from_chars(dot + 1, end, minor);
    valid = minor_error == std::errc() && minor_end == end && minor_end != dot + 1;
  }

  if (!valid) {
    throw Error(Error::Kind::Protocol, operation, 0,
                engine_version.empty() ? "the response has no Api-Version header"
                                       : "invalid Api-Version header \"" + engine_version + "\"");
  }

  if (major > kNewestMajor || (major == kNewestMajor && minor > kNewestMinor)) {
    return std::to_string(kNewestMajor) + "." + std::to_string(kNewestMinor);
  }
  return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace

Error::Error(Kind kind, std::string operation, long status, std::string docker_message)
    : std::runtime_error(describe(kind, operation, status, docker_message)),
      kind_(kind),
      operation_(std::move(operation)),
      status_(status),
      docker_message_(std::move(docker_message)) {}

bool Error::portConflict() const {
  if (kind_ != Kind::Status || status_ != 500) return false;

  return docker_message_.find("port is already allocated") != std::string::npos ||
         docker_message_.find("address already in use") != std::string::npos;
}

struct Client::Impl {
  explicit Impl(ClientOptions options) : http(std::move(options)) {}

  // Calls GET /_ping and stores the negotiated version. Errors carry the
  // caller's operation, so a first create on a stopped engine reports
  // "create container failed".
  std::string negotiate(const std::string& operation) {
    HttpResponse response = http.send(operation, Method::Get, "/_ping", "");
    if (!succeeded(response)) throw statusError(operation, response);

    api_version = negotiateVersion(operation, response.api_version);
    return api_version;
  }

  // Returns "/v" + version + path, after a ping if no version is picked yet.
  std::string versioned(const std::string& operation, const std::string& path) {
    if (api_version.empty()) negotiate(operation);
    return "/v" + api_version + path;
  }

  HttpConnection http;
  std::string api_version;  // empty until the first ping
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

std::string Client::ping() { return impl_->negotiate("ping"); }

std::string Client::create(const ContainerSpec& spec) {
  const std::string operation = "create container";
  std::string body = encodeCreateBody(spec);

  std::string path = "/containers/create";
  if (!spec.name.empty()) path += "?name=" + impl_->http.escape(spec.name);

  HttpResponse response =
      impl_->http.send(operation, Method::Post, impl_->versioned(operation, path), body);
  if (!succeeded(response)) throw statusError(operation, response);

  CreateResponse created = parseCreateResponse(response.body, operation);
  for (const std::string& warning : created.warnings) {
    log::warning("docker: container " + created.id + " created with a warning: " + warning);
  }
  return created.id;
}

void Client::start(const std::string& id) {
  const std::string operation = "start container";
  requireNotEmpty(id, "container id", operation.c_str());

  std::string path = "/containers/" + impl_->http.escape(id) + "/start";
  HttpResponse response =
      impl_->http.send(operation, Method::Post, impl_->versioned(operation, path), "");

  // 304 Not Modified: the container already runs.
  if (succeeded(response) || response.status == 304) return;
  throw statusError(operation, response);
}

Container Client::inspect(const std::string& id_or_name) {
  const std::string operation = "inspect container";
  requireNotEmpty(id_or_name, "container id or name", operation.c_str());

  std::string path = "/containers/" + impl_->http.escape(id_or_name) + "/json";
  HttpResponse response =
      impl_->http.send(operation, Method::Get, impl_->versioned(operation, path), "");
  if (!succeeded(response)) throw statusError(operation, response);

  return parseInspectResponse(response.body, operation);
}

void Client::remove(const std::string& id) {
  const std::string operation = "remove container";
  requireNotEmpty(id, "container id", operation.c_str());

  // v=true removes the container's anonymous volumes with it.
  std::string path = "/containers/" + impl_->http.escape(id) + "?force=true&v=true";
  HttpResponse response =
      impl_->http.send(operation, Method::Delete, impl_->versioned(operation, path), "");
  if (succeeded(response) || response.status == 404) return;

  Error error = statusError(operation, response);
  if (error.conflict() && error.dockerMessage().find("already in progress") != std::string::npos) {
    return;
  }
  throw error;
}

std::vector<Container> Client::list(const std::map<std::string, std::string>& labels) {
  const std::string operation = "list containers";

  // An empty filter would match every container on the host, including
  // those berth must never touch.
  if (labels.empty()) {
    throw std::invalid_argument(operation + ": the label filter must not be empty");
  }

  std::string path =
      "/containers/json?all=true&filters=" + impl_->http.escape(encodeLabelFilter(labels));
  HttpResponse response =
      impl_->http.send(operation, Method::Get, impl_->versioned(operation, path), "");
  if (!succeeded(response)) throw statusError(operation, response);

  return parseListResponse(response.body, operation);
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode code = curl_global_init(CURL_GLOBAL_ALL);
    if (code != CURLE_OK) {
      throw std::runtime_error(std::string("curl_global_init failed: ") + curl_easy_strerror(code));
    }
  });
}

}  // namespace berth::docker
