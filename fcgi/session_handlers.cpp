#include <rapidjson/document.h>

#include <variant>

#include "auth/credentials.hpp"
#include "auth/token.hpp"
#include "common/log.hpp"
#include "fcgi/handlers.hpp"

namespace berth::fcgi {
namespace {

// Maximum password length, in bytes; bcrypt reads only the first 72.
constexpr std::size_t kMaxPasswordBytes = 1024;

struct Credentials {
  std::string user;
  std::string password;
};

bool isForm(const Request& request) {
  return hasMediaType(request.content_type, "application/x-www-form-urlencoded");
}

Response missingField(const char* field) {
  return problem(422, "missing-field", "Missing field",
                 std::string("the field \"") + field + "\" is required", field);
}

std::variant<Credentials, Response> credentialsFromJson(const std::string& body) {
  auto parsed = parseJsonObject(body);
  if (auto* response = std::get_if<Response>(&parsed)) return std::move(*response);
  const rapidjson::Document& document = std::get<rapidjson::Document>(parsed);

  Credentials credentials;
  for (const char* field : {"user", "password"}) {
    const auto member = document.FindMember(field);
    if (member == document.MemberEnd()) return missingField(field);
    if (!member->value.IsString()) {
      return problem(422, "invalid-field", "Invalid field",
                     std::string("the field \"") + field + "\" must be a string", field);
    }
    std::string value(member->value.GetString(), member->value.GetStringLength());
    (field[0] == 'u' ? credentials.user : credentials.password) = std::move(value);
  }
  return credentials;
}

std::variant<Credentials, Response> credentialsFromForm(const std::string& body) {
  auto parsed = parseForm(body);
  if (auto* response = std::get_if<Response>(&parsed)) return std::move(*response);
  const auto& fields = std::get<FormFields>(parsed);

  Credentials credentials;
  for (const char* field : {"user", "password"}) {
    const auto found = fields.find(field);
    if (found == fields.end()) return missingField(field);
    (field[0] == 'u' ? credentials.user : credentials.password) = found->second;
  }
  return credentials;
}

// Parses and validates the login body. Returns the credentials, or the
// problem response that names the bad field.
std::variant<Credentials, Response> readCredentials(const Request& request) {
  std::variant<Credentials, Response> parsed;
  if (isForm(request)) {
    parsed = credentialsFromForm(request.body);
  } else if (hasMediaType(request.content_type, "application/json")) {
    parsed = credentialsFromJson(request.body);
  } else {
    return unsupportedMediaType(request, "application/json or application/x-www-form-urlencoded");
  }
  if (std::holds_alternative<Response>(parsed)) return parsed;

  const Credentials& credentials = std::get<Credentials>(parsed);
  if (credentials.user.empty()) return missingField("user");
  if (const auto wrong = auth::userNameProblem(credentials.user)) {
    return problem(422, "invalid-user-name", "Invalid user name", "the user name " + *wrong,
                   "user");
  }
  if (credentials.password.empty()) return missingField("password");
  if (credentials.password.size() > kMaxPasswordBytes) {
    return problem(422, "invalid-field", "Invalid field",
                   "the password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes",
                   "password");
  }
  if (credentials.password.find('\0') != std::string::npos) {
    return problem(422, "invalid-field", "Invalid field", "the password contains a NUL byte",
                   "password");
  }
  return parsed;
}

std::string sessionCookie(const config::Config& config, const std::string& token) {
  std::string cookie =
      std::string(kSessionCookie) + "=" + token +
      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(config.max_lifetime);
  if (config.cookie_secure) cookie += "; Secure";
  return cookie;
}

std::string expiredCookie(const config::Config& config) {
  std::string cookie =
      std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
  if (config.cookie_secure) cookie += "; Secure";
  return cookie;
}

// Finds the session of the request's cookie and marks it seen. Returns the
// session, or a 401 problem.
std::variant<shm::Session, Response> authenticate(const Request& request, Context& context) {
  const auto token = request.cookieValue(kSessionCookie);
  if (!token || token->empty()) {
    return problem(401, "missing-session", "Not logged in",
                   std::string("the request has no ") + kSessionCookie + " cookie; log in first",
                   kSessionCookie);
  }
  const auto session = context.segment.findByToken(auth::hashToken(*token), lifecycle::unixNow());
  if (!session || session->state != shm::State::Running) {
    return problem(401, "invalid-session", "Session not valid",
                   std::string("the ") + kSessionCookie +
                       " cookie does not belong to a live session; log in again",
                   kSessionCookie);
  }
  // The sweep destroys it at its next pass; until then it is refused here.
  if (lifecycle::unixNow() - session->created > context.config.max_lifetime) {
    return problem(401, "session-expired", "Session expired",
                   "the session is older than max_lifetime (" +
                       std::to_string(context.config.max_lifetime) + " s); log in again",
                   kSessionCookie);
  }
  return *session;
}

}  // namespace

Response handleLogin(const Request& request, Context& context) {
  auto parsed = readCredentials(request);
  if (auto* response = std::get_if<Response>(&parsed)) return *response;
  const Credentials& credentials = std::get<Credentials>(parsed);

  if (!auth::verifyPassword(context.config.htpasswd, credentials.user, credentials.password)) {
    log::info("login rejected: user=" + credentials.user + " from=" + request.remote_address);
    return problem(401, "invalid-credentials", "Invalid credentials",
                   "the user name or the password is wrong");
  }

  shm::Session session;
  try {
    session = context.workspaces.start(credentials.user);
  } catch (const lifecycle::Error& error) {
    log::error("login failed: user=" + credentials.user + " from=" + request.remote_address + ": " +
               error.what());
    return lifecycleProblem(error);
  }

  const std::string token = auth::newSessionToken();
  if (!context.segment.addToken(session.slot, session.generation, auth::hashToken(token))) {
    return problem(409, "session-ended", "Session ended during login",
                   "the session was destroyed while the login finished; log in again");
  }
  log::info("login: user=" + session.user + " port=" + std::to_string(session.port) +
            " container=" + session.container_id.substr(0, 12));

  const std::string url = lifecycle::workspaceUrl(context.config, session);
  Response response;
  if (isForm(request)) {
    response.status = 303;
    response.setHeader("Location", url);
    response.setHeader("Cache-Control", "no-store");
  } else {
    response = jsonResponse(200, sessionJson(context.config, session));
  }
  response.setHeader("Set-Cookie", sessionCookie(context.config, token));
  return response;
}

Response handleLogout(const Request& request, Context& context) {
  auto authenticated = authenticate(request, context);
  if (auto* response = std::get_if<Response>(&authenticated)) return *response;
  const shm::Session& session = std::get<shm::Session>(authenticated);

  try {
    context.workspaces.destroy(session, "logout");
  } catch (const lifecycle::Error& error) {
    log::error("logout failed: user=" + session.user + " port=" + std::to_string(session.port) +
               ": " + error.what());
    return lifecycleProblem(error);
  }
  log::info("logout: user=" + session.user + " port=" + std::to_string(session.port));

  Response response =
      jsonResponse(200, "{\"user\":\"" + session.user + "\",\"state\":\"destroyed\"}");
  response.setHeader("Set-Cookie", expiredCookie(context.config));
  return response;
}

Response handleSession(const Request& request, Context& context) {
  auto authenticated = authenticate(request, context);
  if (auto* response = std::get_if<Response>(&authenticated)) return *response;
  return jsonResponse(200, sessionJson(context.config, std::get<shm::Session>(authenticated)));
}

}  // namespace berth::fcgi
