#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fcgi/handlers.hpp"

namespace berth::fcgi {
namespace {

void writeString(rapidjson::Writer<rapidjson::StringBuffer>& writer, const char* key,
                 const std::string& value) {
  writer.Key(key);
  writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string sessionJson(const config::Config& config, const shm::Session& session) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);

  writer.StartObject();
  writeString(writer, "user", session.user);
  writer.Key("port");
  writer.Uint(session.port);
  writeString(writer, "url", lifecycle::workspaceUrl(config, session));
  writeString(writer, "container", session.container_id);
  writeString(writer, "state", shm::stateName(session.state));
  writer.Key("created");
  writer.Int64(session.created);
  writer.Key("last_seen");
  writer.Int64(session.last_seen);
  writer.EndObject();
  return buffer.GetString();
}

Response lifecycleProblem(const lifecycle::Error& error) {
  // The engine's own messages name the Docker socket, images and container
  // ids. Callers log them, so the detail here stays plain for the user.
  using Kind = lifecycle::Error::Kind;
  switch (error.kind()) {
    case Kind::Capacity:
      return problem(503, "capacity", "No free workspace", error.what());
    case Kind::EngineUnavailable:
      return problem(503, "engine-unavailable", "Docker engine unavailable",
                     "the Docker engine is not reachable; try again later");
    case Kind::Engine:
      return problem(502, "engine-error", "Docker engine error",
                     "the Docker engine failed to start or remove the workspace; the operator "
                     "can find the cause in berth's log");
    case Kind::NotReady:
      return problem(504, "not-ready", "Workspace did not become ready", error.what());
    case Kind::NameTaken:
      return problem(409, "name-taken", "Container name taken",
                     "a container that berth does not manage has this workspace's name; the "
                     "operator can find it in berth's log and must rename or remove it");
    case Kind::Ended:
      return problem(409, "session-ended", "Session ended during start", error.what());
  }
  return problem(500, "internal-error", "Internal error",
                 "the request failed inside berth; the operator can find the cause in berth's log");
}

}  // namespace berth::fcgi
