#pragma once

#include "config/config.hpp"
#include "docker/client.hpp"
#include "fcgi/http.hpp"
#include "lifecycle/workspaces.hpp"
#include "shm/segment.hpp"

namespace berth::fcgi {

// The state a request thread works with: shared config and segment, and its own
// Docker client and Workspaces.
struct Context {
  const config::Config& config;
  shm::Segment& segment;
  docker::Client& docker;
  lifecycle::Workspaces& workspaces;
};

// The session cookie's name.
inline constexpr const char* kSessionCookie = "berth_session";

// Dispatches a request to its handler. Never throws: an unexpected exception
// becomes a logged 500 problem.
Response route(const Request& request, Context& context);

Response handleLogin(const Request& request, Context& context);
Response handleLogout(const Request& request, Context& context);
Response handleSession(const Request& request, Context& context);
Response handleAdmin(const Request& request, Context& context);
Response handleHealth(const Request& request, Context& context);

// Serialises a session as {user, port, url, container, state, created, last_seen}.
std::string sessionJson(const config::Config& config, const shm::Session& session);

// Maps a failed start or destroy to its problem response.
Response lifecycleProblem(const lifecycle::Error& error);

}  // namespace berth::fcgi
