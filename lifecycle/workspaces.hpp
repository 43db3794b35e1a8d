#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "docker/client.hpp"
#include "shm/segment.hpp"

namespace berth::lifecycle {

// A failed start or destroy of a workspace. The HTTP layer maps each kind to
// one status code.
class Error : public std::runtime_error {
 public:
  enum class Kind {
    Capacity,           // no free session slot or port in the range
    EngineUnavailable,  // the Docker socket does not respond
    Engine,             // the engine returned an error
    NotReady,           // the container did not respond to HTTP within ready_timeout
    NameTaken,          // a container berth does not manage has the workspace's name
    Ended,              // the session was destroyed while it was starting
  };
  Error(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Labels on every container berth creates.
inline constexpr const char* kLabelManaged = "io.berth.managed";
inline constexpr const char* kLabelPool = "io.berth.pool";
inline constexpr const char* kLabelUser = "io.berth.user";
inline constexpr const char* kLabelSession = "io.berth.session";

// The label filter that finds every container of the pool named `segment`.
std::map<std::string, std::string> poolLabels(const std::string& segment);

// The io.berth.session label value of a session: "SLOT.GENERATION".
std::string sessionLabel(const shm::Session& session);

// The Docker name of a user's container: "berth_SEGMENT_USER". Segment names
// contain no '_', so no two pools and users share a name.
std::string containerName(const config::Config& config, const std::string& user);

// The URL a user's browser opens for a session.
std::string workspaceUrl(const config::Config& config, const shm::Session& session);

// The one definition of starting and destroying a user's workspace
// container, shared by the HTTP handlers, the sweep and the pool's shutdown.
// Holds references only; create one per thread, next to its docker::Client.
class Workspaces {
 public:
  Workspaces(const config::Config& config, shm::Segment& segment, docker::Client& docker);

  // Returns the user's running session, starting a container when there is
  // none, or when the session's container has stopped or gone, or when the
  // session is left stopping. Concurrent calls for one user, from any thread or process, return
  // the same session: the first claims it and spawns, the others wait for it
  // (up to spawn_timeout). A Starting session whose owner process died is
  // taken over. A port held by another process is skipped. Throws Error; on
  // failure no container and no reservation of this call is left behind.
  shm::Session start(const std::string& user);

  // Removes the session's container (volumes included) and frees its slot and
  // port. A session that is gone already is not an error. When the session has
  // no container id yet, its container is looked up by its io.berth.session
  // label, in `known` when given (the sweep's one list call), else with a list
  // call. Throws Error when the engine fails; the session then stays Stopping
  // for a later retry.
  // `reason` goes into the one log line of the destroy.
  void destroy(const shm::Session& session, const char* reason,
               const std::vector<docker::Container>* known = nullptr);

 private:
  shm::Session spawn(shm::Session session);
  void waitReady(const shm::Session& session);
  // Returns false when the session's container is gone or stopped; true when
  // it answers HTTP, runs, or the engine cannot tell now.
  bool stillRunning(const shm::Session& session);
  std::string createContainer(const shm::Session& session);
  void removeQuietly(const std::string& container_id);
  void abandon(const shm::Session& session, const std::string& container_id);

  const config::Config& config_;
  shm::Segment& segment_;
  docker::Client& docker_;
};

// The Docker client settings of the config: its socket, a 2 s connect
// timeout and docker_timeout per call.
docker::ClientOptions dockerOptions(const config::Config& config);

// Returns the current time in unix seconds.
std::int64_t unixNow();

}  // namespace berth::lifecycle
