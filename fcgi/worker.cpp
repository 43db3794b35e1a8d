#include "fcgi/worker.hpp"

#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

#include "common/log.hpp"
#include "fcgi/handlers.hpp"
#include "fcgi/proctitle.hpp"

namespace berth::fcgi {
namespace {

void exitOnSignal(int) { _exit(0); }

// Reads the request's parameters and body. Returns a response instead when
// the body is too large or its length is missing.
std::variant<Request, Response> readRequest(FCGX_Request& raw) {
  auto param = [&raw](const char* name) {
    const char* value = FCGX_GetParam(name, raw.envp);
    return value == nullptr ? std::string() : std::string(value);
  };

  Request request;
  request.method = param("REQUEST_METHOD");
  request.path = param("DOCUMENT_URI");
  if (request.path.empty()) request.path = param("SCRIPT_NAME");
  request.content_type = param("CONTENT_TYPE");
  request.cookie = param("HTTP_COOKIE");
  request.authorization = param("HTTP_AUTHORIZATION");
  request.remote_address = param("REMOTE_ADDR");

  const std::string length_text = param("CONTENT_LENGTH");
  if (length_text.empty()) return request;
  char* end = nullptr;
  const unsigned long long length = std::strtoull(length_text.c_str(), &end, 10);
  if (end == length_text.c_str() || *end != '\0') {
    return problem(400, "invalid-length", "Invalid Content-Length",
                   "Content-Length \"" + length_text + "\" is not a number", "Content-Length");
  }
  if (length > kMaxBodyBytes) {
    return problem(
        413, "body-too-large", "Body too large",
        "the body is " + length_text + " bytes; the limit is " + std::to_string(kMaxBodyBytes),
        "body");
  }

  request.body.resize(length);
  const int got = FCGX_GetStr(request.body.data(), static_cast<int>(length), raw.in);
  request.body.resize(got < 0 ? 0 : static_cast<std::size_t>(got));
  return request;
}

void writeResponse(FCGX_Request& raw, const Response& response) {
  std::string head =
      "Status: " + std::to_string(response.status) + " " + reasonPhrase(response.status) + "\r\n";
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), raw.out);
  if (!response.body.empty()) {
    FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), raw.out);
  }
}

void serveThread(int listen_fd, const config::Config& config, shm::Segment& segment) {
  docker::Client docker(lifecycle::dockerOptions(config));
  lifecycle::Workspaces workspaces(config, segment, docker);
  Context context{config, segment, docker, workspaces};

  FCGX_Request raw;
  FCGX_InitRequest(&raw, listen_fd, 0);
  while (FCGX_Accept_r(&raw) == 0) {
    auto read = readRequest(raw);
    const Response response = std::holds_alternative<Response>(read)
                                  ? std::get<Response>(read)
                                  : route(std::get<Request>(read), context);
    writeResponse(raw, response);
    FCGX_Finish_r(&raw);
  }
  log::error("FCGX_Accept_r failed; the worker thread stops");
}

}  // namespace

void runWorker(int index, int listen_fd, const config::Config& config) {
  setProcessTitle("berth: worker " + std::to_string(index));

  struct sigaction action {};
  action.sa_handler = exitOnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<shm::Segment> segment;
  try {
    segment = shm::Segment::open({config.segment, config.port_min, config.port_max});
  } catch (const std::exception& error) {
    log::error("worker " + std::to_string(index) + " cannot open the segment: " + error.what());
    _exit(1);
  }

  std::vector<std::thread> threads;
  for (int i = 0; i < config.threads; ++i) {
    threads.emplace_back(serveThread, listen_fd, std::cref(config), std::ref(*segment));
  }
  for (auto& thread : threads) thread.join();
  _exit(1);
}

}  // namespace berth::fcgi
