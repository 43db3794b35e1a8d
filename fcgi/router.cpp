#include <exception>

#include "common/log.hpp"
#include "fcgi/handlers.hpp"

namespace berth::fcgi {
namespace {

Response dispatch(const Request& request, Context& context) {
  const std::string& path = request.path;

  if (path == "/login") {
    if (request.method != "POST") return methodNotAllowed(request, "POST");
    return handleLogin(request, context);
  }
  if (path == "/logout") {
    if (request.method != "POST") return methodNotAllowed(request, "POST");
    return handleLogout(request, context);
  }
  if (path == "/api/session") {
    if (request.method != "GET") return methodNotAllowed(request, "GET");
    return handleSession(request, context);
  }
  if (path == "/api/containers" || path.rfind("/api/containers/", 0) == 0) {
    return handleAdmin(request, context);
  }
  if (path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD") {
      return methodNotAllowed(request, "GET, HEAD");
    }
    return handleHealth(request, context);
  }
  return problem(404, "not-found", "Not found", "no route for " + path, "path");
}

}  // namespace

Response route(const Request& request, Context& context) {
  try {
    return dispatch(request, context);
  } catch (const std::exception& error) {
    log::error("request " + request.method + " " + request.path + " failed: " + error.what());
    return problem(500, "internal-error", "Internal error",
                   "the request failed inside berth; the log has the cause");
  } catch (...) {
    log::error("request " + request.method + " " + request.path +
               " failed with an exception that is not a std::exception");
    return problem(500, "internal-error", "Internal error",
                   "the request failed inside berth; the log has the cause");
  }
}

}  // namespace berth::fcgi
