#include <rapidjson/document.h>
#include <unistd.h>

#include <variant>

#include "auth/credentials.hpp"
#include "common/log.hpp"
#include "fcgi/handlers.hpp"

namespace berth::fcgi {
namespace {

constexpr std::string_view kCollection = "/api/containers";

Response unauthorized(const char* detail) {
  Response response = problem(401, "unauthorized", "Admin token required", detail, "Authorization");
  response.setHeader("WWW-Authenticate", "Bearer realm=\"berth\"");
  return response;
}

Response invalidUser(const std::string& wrong) {
  return problem(422, "invalid-user-name", "Invalid user name", "the user name " + wrong, "user");
}

Response listSessions(Context& context) {
  std::string json = "{\"containers\":[";
  bool first = true;
  for (const auto& session : context.segment.list()) {
    if (!first) json += ',';
    json += sessionJson(context.config, session);
    first = false;
  }
  json += "]}";
  return jsonResponse(200, std::move(json));
}

Response startForUser(const Request& request, Context& context) {
  if (!hasMediaType(request.content_type, "application/json")) {
    return unsupportedMediaType(request, "application/json");
  }
  auto parsed = parseJsonObject(request.body);
  if (auto* response = std::get_if<Response>(&parsed)) return std::move(*response);
  const rapidjson::Document& document = std::get<rapidjson::Document>(parsed);

  const auto member = document.FindMember("user");
  if (member == document.MemberEnd()) {
    return problem(422, "missing-field", "Missing field", "the field \"user\" is required", "user");
  }
  if (!member->value.IsString()) {
    return problem(422, "invalid-field", "Invalid field", "the field \"user\" must be a string",
                   "user");
  }
  const std::string user(member->value.GetString(), member->value.GetStringLength());
  if (const auto wrong = auth::userNameProblem(user)) return invalidUser(*wrong);

  const bool existed = context.segment.findByUser(user).has_value();
  try {
    const shm::Session session = context.workspaces.start(user);
    log::info("admin start: user=" + user + " port=" + std::to_string(session.port));
    return jsonResponse(existed ? 200 : 201, sessionJson(context.config, session));
  } catch (const lifecycle::Error& error) {
    log::error("admin start failed: user=" + user + ": " + error.what());
    return lifecycleProblem(error);
  }
}

Response oneSession(const Request& request, Context& context, const std::string& user) {
  if (const auto wrong = auth::userNameProblem(user)) return invalidUser(*wrong);
  const auto session = context.segment.findByUser(user);
  if (!session) {
    return problem(404, "no-session", "No session", "user " + user + " has no session", "user");
  }

  if (request.method == "GET") return jsonResponse(200, sessionJson(context.config, *session));

  try {
    context.workspaces.destroy(*session, "admin request");
  } catch (const lifecycle::Error& error) {
    log::error("admin destroy failed: user=" + user + " port=" + std::to_string(session->port) +
               ": " + error.what());
    return lifecycleProblem(error);
  }
  log::info("admin destroy: user=" + user + " port=" + std::to_string(session->port));
  Response response;
  response.status = 204;
  return response;
}

}  // namespace

Response handleAdmin(const Request& request, Context& context) {
  const auto token = request.bearerToken();
  if (!token) return unauthorized("send the admin token as \"Authorization: Bearer TOKEN\"");
  if (!auth::verifyAdminToken(context.config.admin_token_file, *token)) {
    log::warning("admin request with a wrong token from " + request.remote_address);
    return unauthorized("the bearer token does not match the admin token");
  }

  if (request.path == kCollection) {
    if (request.method == "GET") return listSessions(context);
    if (request.method == "POST") return startForUser(request, context);
    return methodNotAllowed(request, "GET, POST");
  }

  const std::string user = request.path.substr(kCollection.size() + 1);
  if (request.method != "GET" && request.method != "DELETE") {
    return methodNotAllowed(request, "GET, DELETE");
  }
  return oneSession(request, context, user);
}

Response handleHealth(const Request&, Context& context) {
  std::string engine_version;
  try {
    engine_version = context.docker.ping();
  } catch (const docker::Error& error) {
    return problem(503, "engine-unavailable", "Docker engine unavailable", error.what());
  }

  if (::access(("/dev/shm/" + context.config.segment).c_str(), F_OK) != 0) {
    return problem(503, "segment-missing", "Shared state missing",
                   "/dev/shm/" + context.config.segment +
                       " was removed; the pool restarts its workers with a new segment");
  }
  const auto problems = context.segment.consistencyProblems();
  if (!problems.empty()) {
    return problem(503, "segment-inconsistent", "Shared state inconsistent", problems.front());
  }

  const auto sessions = context.segment.list();
  return jsonResponse(200, "{\"status\":\"ok\",\"engine_api\":\"" + engine_version +
                               "\",\"sessions\":" + std::to_string(sessions.size()) +
                               ",\"capacity\":" + std::to_string(context.segment.capacity()) + "}");
}

}  // namespace berth::fcgi
