#include "lifecycle/workspaces.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/log.hpp"
#include "common/process.hpp"
#include "lifecycle/probe.hpp"

namespace berth::lifecycle {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiting login looks at the session another worker is starting.
constexpr auto kWaitInterval = std::chrono::milliseconds(20);
// How often a readiness probe runs, and how often the container's state is
// checked between probes so that a container that exits fails the login early.
constexpr auto kProbeInterval = std::chrono::milliseconds(10);
constexpr auto kStateCheckInterval = std::chrono::milliseconds(1000);

std::string describe(const shm::Session& session) {
  std::string text = "user=" + session.user + " session=" + sessionLabel(session) +
                     " port=" + std::to_string(session.port);
  if (!session.container_id.empty()) text += " container=" + session.container_id.substr(0, 12);
  return text;
}

// The address to probe: a wildcard bind address is reached over loopback.
std::string probeAddress(const std::string& bind_address) {
  if (bind_address == "0.0.0.0") return "127.0.0.1";
  if (bind_address == "::") return "::1";
  return bind_address;
}

Error engineError(const docker::Error& error) {
  if (error.engineUnavailable()) {
    return Error(Error::Kind::EngineUnavailable,
                 std::string("Docker engine unavailable: ") + error.what());
  }
  return Error(Error::Kind::Engine, error.what());
}

}  // namespace

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

docker::ClientOptions dockerOptions(const config::Config& config) {
  return docker::ClientOptions{config.docker_socket, 2000, config.docker_timeout * 1000L};
}

std::map<std::string, std::string> poolLabels(const std::string& segment) {
  return {{kLabelManaged, "true"}, {kLabelPool, segment}};
}

std::string sessionLabel(const shm::Session& session) {
  return std::to_string(session.slot) + "." + std::to_string(session.generation);
}

std::string containerName(const config::Config& config, const std::string& user) {
  return "berth_" + config.segment + "_" + user;
}

std::string workspaceUrl(const config::Config& config, const shm::Session& session) {
  return "http://" + config.public_host + ":" + std::to_string(session.port) + "/";
}

Workspaces::Workspaces(const config::Config& config, shm::Segment& segment, docker::Client& docker)
    : config_(config), segment_(segment), docker_(docker) {}

shm::Session Workspaces::start(const std::string& user) {
  const auto deadline = Clock::now() + std::chrono::seconds(config_.spawn_timeout);

  while (true) {
    shm::Claim claim;
    try {
      claim = segment_.claim(user, getpid(), unixNow());
    } catch (const shm::CapacityError& error) {
      throw Error(Error::Kind::Capacity, error.what());
    }
    if (claim.created) return spawn(claim.session);

    const shm::Session& existing = claim.session;
    if (existing.state == shm::State::Running) {
      if (stillRunning(existing)) return existing;
      destroy(existing, "its container no longer runs; the login starts a new one");
      continue;
    }

    // A destroy that a dead worker began, or one still under way: finishing it
    // is safe to do twice, and lets this login start a fresh container.
    if (existing.state == shm::State::Stopping) {
      destroy(existing, "finishing a stop before the login");
      continue;
    }

    if (existing.state == shm::State::Starting && !processAlive(existing.owner_pid) &&
        segment_.takeOver(existing.slot, existing.generation, getpid())) {
      log::warning("taking over a start whose worker died: " + describe(existing) +
                   " dead_pid=" + std::to_string(existing.owner_pid));
      if (!existing.container_id.empty()) removeQuietly(existing.container_id);
      shm::Session orphaned_start = existing;
      orphaned_start.container_id.clear();
      return spawn(orphaned_start);
    }

    // Another thread or worker is starting this user's session.
    if (Clock::now() >= deadline) {
      throw Error(Error::Kind::NotReady, "the workspace of user " + user + " is still " +
                                             shm::stateName(existing.state) + " after " +
                                             std::to_string(config_.spawn_timeout) + " s");
    }
    std::this_thread::sleep_for(kWaitInterval);
  }
}

shm::Session Workspaces::spawn(shm::Session session) {
  std::string container_id;
  try {
    // Every failed port is blocked for port_block seconds and movePort()
    // throws once none is left, so the loop ends within the range's size.
    const std::uint32_t max_attempts = segment_.capacity() + 1;
    for (std::uint32_t attempt = 0; attempt < max_attempts; ++attempt) {
      if (!portFree(config_.bind_address, session.port)) {
        log::info("skipping port held by another process: " + describe(session));
        auto moved = segment_.movePort(session.slot, session.generation, session.port, unixNow(),
                                       config_.port_block);
        if (!moved) throw Error(Error::Kind::Ended, "the session ended while it was starting");
        session = *moved;
        continue;
      }

      container_id = createContainer(session);
      session.container_id = container_id;
      if (!segment_.setContainer(session.slot, session.generation, container_id)) {
        throw Error(Error::Kind::Ended, "the session ended while it was starting");
      }

      try {
        docker_.start(container_id);
      } catch (const docker::Error& error) {
        if (!error.portConflict()) throw;
        log::info("engine rejected the port binding, trying another port: " + describe(session) +
                  ": " + error.dockerMessage());
        removeQuietly(container_id);
        container_id.clear();
        session.container_id.clear();
        auto moved = segment_.movePort(session.slot, session.generation, session.port, unixNow(),
                                       config_.port_block);
        if (!moved) throw Error(Error::Kind::Ended, "the session ended while it was starting");
        session = *moved;
        continue;
      }

      waitReady(session);
      if (!segment_.markRunning(session.slot, session.generation)) {
        throw Error(Error::Kind::Ended, "the session ended while it was starting");
      }
      session.state = shm::State::Running;
      log::info("started workspace: " + describe(session));
      return session;
    }
    throw Error(Error::Kind::Capacity,
                "no usable port in the range; other processes hold its free ports");
  } catch (const docker::Error& error) {
    abandon(session, container_id);
    throw engineError(error);
  } catch (const shm::CapacityError& error) {
    abandon(session, container_id);
    throw Error(Error::Kind::Capacity, error.what());
  } catch (const Error& error) {
    log::warning("start failed: " + describe(session) + ": " + error.what());
    abandon(session, container_id);
    throw;
  }
}

std::string Workspaces::createContainer(const shm::Session& session) {
  docker::ContainerSpec spec;
  spec.name = containerName(config_, session.user);
  spec.image = config_.image;
  spec.labels = poolLabels(config_.segment);
  spec.labels[kLabelUser] = session.user;
  spec.labels[kLabelSession] = sessionLabel(session);
  spec.env = {"BERTH_USER=" + session.user};
  spec.host_ip = config_.bind_address;
  spec.host_port = session.port;
  spec.container_port = config_.container_port;
  spec.memory_bytes = config_.memory_mb * 1024 * 1024;
  spec.nano_cpus = static_cast<std::int64_t>(config_.cpus * 1e9);
  spec.pids_limit = config_.pids_limit;

  try {
    return docker_.create(spec);
  } catch (const docker::Error& error) {
    if (error.notFound()) {
      throw Error(Error::Kind::Engine,
                  "image " + config_.image + " not found; build it with `make image`");
    }
    if (!error.conflict()) throw;
  }

  // The name is taken: a container of an earlier attempt or a crashed pool,
  // or one that berth does not manage and must not touch.
  const docker::Container existing = docker_.inspect(spec.name);
  auto label = [&existing](const char* key) {
    auto found = existing.labels.find(key);
    return found == existing.labels.end() ? std::string() : found->second;
  };
  if (label(kLabelManaged) != "true" || label(kLabelPool) != config_.segment ||
      label(kLabelUser) != session.user) {
    throw Error(Error::Kind::NameTaken, "a container named " + spec.name +
                                            " exists and berth does not manage it; "
                                            "rename or remove it");
  }
  if (label(kLabelSession) == sessionLabel(session) && existing.host_port == session.port) {
    log::info("adopting the container of an earlier start: " + describe(session) +
              " container=" + existing.id.substr(0, 12));
    return existing.id;
  }
  log::info("removing a leftover container before the start: user=" + session.user +
            " container=" + existing.id.substr(0, 12) + " session=" + label(kLabelSession));
  docker_.remove(existing.id);
  return docker_.create(spec);
}

void Workspaces::waitReady(const shm::Session& session) {
  const auto deadline = Clock::now() + std::chrono::seconds(config_.ready_timeout);
  const std::string address = probeAddress(config_.bind_address);
  auto next_state_check = Clock::now() + kStateCheckInterval;

  while (Clock::now() < deadline) {
    if (answersHttp(address, session.port, 1000)) return;

    if (Clock::now() >= next_state_check) {
      const docker::Container container = docker_.inspect(session.container_id);
      if (container.state != "running") {
        throw Error(Error::Kind::Engine,
                    "container " + session.container_id.substr(0, 12) + " is " + container.state +
                        " instead of running; check the image " + config_.image);
      }
      next_state_check = Clock::now() + kStateCheckInterval;
    }
    std::this_thread::sleep_for(kProbeInterval);
  }
  throw Error(Error::Kind::NotReady, "the container did not respond to HTTP on port " +
                                         std::to_string(session.port) + " within " +
                                         std::to_string(config_.ready_timeout) + " s");
}

bool Workspaces::stillRunning(const shm::Session& session) {
  if (answersHttp(probeAddress(config_.bind_address), session.port, 1000)) return true;
  try {
    return docker_.inspect(session.container_id).state == "running";
  } catch (const docker::Error& error) {
    if (error.notFound()) return false;
    // The engine cannot tell now; the session stays as it is.
    return true;
  }
}

void Workspaces::destroy(const shm::Session& session, const char* reason,
                         const std::vector<docker::Container>* known) {
  const auto stopping = segment_.beginStop(session.slot, session.generation);
  if (!stopping) return;

  try {
    if (!stopping->container_id.empty()) {
      docker_.remove(stopping->container_id);
    } else {
      // A start may have created the container without recording it yet.
      auto labels = poolLabels(config_.segment);
      labels[kLabelSession] = sessionLabel(*stopping);
      const auto found = known != nullptr ? *known : docker_.list(labels);
      for (const auto& container : found) {
        const auto label = container.labels.find(kLabelSession);
        const auto user = container.labels.find(kLabelUser);
        if (label == container.labels.end() || label->second != sessionLabel(*stopping)) continue;
        if (user == container.labels.end() || user->second != stopping->user) continue;
        docker_.remove(container.id);
      }
    }
  } catch (const docker::Error& error) {
    log::error("removing the container failed, the sweep will retry: " + describe(*stopping) +
               ": " + error.what());
    throw engineError(error);
  }

  segment_.release(stopping->slot, stopping->generation);
  log::info(std::string("destroyed workspace (") + reason + "): " + describe(*stopping));
}

void Workspaces::removeQuietly(const std::string& container_id) {
  try {
    docker_.remove(container_id);
  } catch (const docker::Error& error) {
    log::error("removing container " + container_id.substr(0, 12) +
               " failed, the sweep will remove it: " + error.what());
  }
}

void Workspaces::abandon(const shm::Session& session, const std::string& container_id) {
  if (!container_id.empty()) removeQuietly(container_id);
  if (segment_.beginStop(session.slot, session.generation)) {
    segment_.release(session.slot, session.generation);
  }
}

}  // namespace berth::lifecycle
