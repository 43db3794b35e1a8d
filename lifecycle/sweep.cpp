#include "lifecycle/sweep.hpp"

#include <set>

#include "common/log.hpp"
#include "common/process.hpp"
#include "lifecycle/connections.hpp"
#include "lifecycle/workspaces.hpp"

namespace berth::lifecycle {
namespace {

std::string labelOf(const docker::Container& container, const char* key) {
  const auto found = container.labels.find(key);
  return found == container.labels.end() ? std::string() : found->second;
}

std::string describeContainer(const docker::Container& container) {
  return "user=" + labelOf(container, kLabelUser) + " container=" + container.id.substr(0, 12) +
         " port=" + std::to_string(container.host_port) + " state=" + container.state;
}

std::string describeSession(const shm::Session& session) {
  return "user=" + session.user + " container=" + session.container_id.substr(0, 12) +
         " port=" + std::to_string(session.port) + " state=" + shm::stateName(session.state);
}

// Why a session should be destroyed now, or nullptr when it should stay.
const char* verdict(const config::Config& config, const shm::Session& session,
                    const std::map<std::string, const docker::Container*>& by_id, std::int64_t now,
                    int*& counter, SweepReport& report) {
  switch (session.state) {
    case shm::State::Starting:
      if (!processAlive(session.owner_pid)) {
        counter = &report.starts_reclaimed;
        return "start abandoned by a dead worker";
      }
      if (now - session.created > config.spawn_timeout) {
        counter = &report.starts_reclaimed;
        return "start older than spawn_timeout";
      }
      return nullptr;
    case shm::State::Stopping:
      counter = &report.stops_retried;
      return "earlier destroy did not finish";
    case shm::State::Running: {
      const auto found = by_id.find(session.container_id);
      if (found == by_id.end()) {
        counter = &report.sessions_dropped;
        return "container is gone";
      }
      if (found->second->state != "running") {
        counter = &report.sessions_dropped;
        return "container is not running";
      }
      if (now - session.created > config.max_lifetime) {
        counter = &report.expired_reaped;
        return "older than max_lifetime";
      }
      if (now - session.last_seen > config.idle_timeout) {
        counter = &report.idle_reaped;
        return "idle longer than idle_timeout";
      }
      return nullptr;
    }
    case shm::State::Free:
      return nullptr;
  }
  return nullptr;
}

// Returns true when the engine reports the container running now; false when
// it is gone, stopped, or the engine cannot tell.
bool containerRuns(docker::Client& docker, const std::string& container_id) {
  if (container_id.empty()) return false;
  try {
    return docker.inspect(container_id).state == "running";
  } catch (const docker::Error&) {
    return false;
  }
}

void removeOrphan(docker::Client& docker, const docker::Container& container, bool dry_run,
                  SweepReport& report) {
  if (dry_run) {
    log::info("sweep: would remove orphan container: " + describeContainer(container));
    ++report.orphans_removed;
    return;
  }
  try {
    docker.remove(container.id);
    log::info("sweep: removed orphan container: " + describeContainer(container));
    ++report.orphans_removed;
  } catch (const docker::Error& error) {
    log::error("sweep: removing orphan container failed: " + describeContainer(container) + ": " +
               error.what());
    ++report.errors;
  }
}

}  // namespace

std::string SweepReport::summary(bool dry_run) const {
  return std::string(dry_run ? "sweep (dry run):" : "sweep:") +
         " containers=" + std::to_string(containers) + " sessions=" + std::to_string(sessions) +
         " orphans_removed=" + std::to_string(orphans_removed) +
         " sessions_dropped=" + std::to_string(sessions_dropped) +
         " idle_reaped=" + std::to_string(idle_reaped) +
         " expired_reaped=" + std::to_string(expired_reaped) +
         " starts_reclaimed=" + std::to_string(starts_reclaimed) +
         " stops_retried=" + std::to_string(stops_retried) + " errors=" + std::to_string(errors);
}

SweepReport sweep(const config::Config& config, docker::Client& docker, bool dry_run,
                  const SegmentFinder& find_segment) {
  SweepReport report;

  // Containers are listed before sessions are read: a container in the list
  // was created after its session was claimed, so its session (or its
  // release) is visible in the snapshot below.
  const std::vector<docker::Container> containers = docker.list(poolLabels(config.segment));
  report.containers = static_cast<int>(containers.size());

  shm::Segment* segment = find_segment();
  if (segment == nullptr) {
    log::info("sweep: no live pool owns the segment " + config.segment +
              "; every container of the pool is an orphan");
    for (const auto& container : containers) removeOrphan(docker, container, dry_run, report);
    log::info(report.summary(dry_run));
    return report;
  }

  const std::vector<shm::Session> sessions = segment->list();
  report.sessions = static_cast<int>(sessions.size());
  std::map<std::string, const docker::Container*> by_id;
  for (const auto& container : containers) by_id[container.id] = &container;

  // Containers that belong to a session: by recorded id, or by session label
  // for a start that has not recorded its container yet.
  std::set<std::string> owned_ids;
  std::set<std::string> owned_labels;
  for (const auto& session : sessions) {
    if (!session.container_id.empty()) owned_ids.insert(session.container_id);
    if (session.state == shm::State::Starting) {
      owned_labels.insert(session.user + "/" + sessionLabel(session));
    }
  }

  Workspaces workspaces(config, *segment, docker);
  const std::int64_t now = unixNow();
  const std::set<std::uint16_t> connected_ports = portsWithConnections();
  for (shm::Session session : sessions) {
    // A user working in the workspace talks to its port, not to berth, so an
    // open connection counts as activity.
    if (session.state == shm::State::Running && connected_ports.count(session.port) > 0) {
      session.last_seen = now;
      if (!dry_run) segment->touch(session.slot, session.generation, now);
    }

    int* counter = nullptr;
    const char* reason = verdict(config, session, by_id, now, counter, report);
    if (reason == nullptr) continue;

    if (dry_run) {
      log::info(std::string("sweep: would destroy session (") + reason +
                "): " + describeSession(session));
      ++*counter;
      continue;
    }
    // A login may have created and started its container after the list
    // call; the engine has the last word before a session is dropped.
    if (counter == &report.sessions_dropped && containerRuns(docker, session.container_id)) {
      continue;
    }
    try {
      workspaces.destroy(session, (std::string("sweep: ") + reason).c_str(), &containers);
      ++*counter;
    } catch (const Error& error) {
      log::error("sweep: destroying session failed: " + describeSession(session) + ": " +
                 error.what());
      ++report.errors;
    }
  }

  for (const auto& container : containers) {
    const std::string key =
        labelOf(container, kLabelUser) + "/" + labelOf(container, kLabelSession);
    if (owned_ids.count(container.id) > 0 || owned_labels.count(key) > 0) continue;
    removeOrphan(docker, container, dry_run, report);
  }

  log::info(report.summary(dry_run));
  return report;
}

}  // namespace berth::lifecycle
