#pragma once

#include <functional>
#include <string>

#include "config/config.hpp"
#include "docker/client.hpp"
#include "shm/segment.hpp"

namespace berth::lifecycle {

// Counts of one sweep pass; with a dry run, what it would have done.
struct SweepReport {
  int containers = 0;        // managed containers of this pool the engine listed
  int sessions = 0;          // sessions in the segment
  int orphans_removed = 0;   // containers without a session
  int sessions_dropped = 0;  // sessions whose container is gone or not running
  int idle_reaped = 0;       // sessions idle longer than idle_timeout
  int expired_reaped = 0;    // sessions older than max_lifetime
  int starts_reclaimed = 0;  // Starting sessions of a dead worker or past spawn_timeout
  int stops_retried = 0;     // Stopping sessions whose destroy failed before
  int errors = 0;            // actions that failed; the next pass retries them

  // One line with every count, for the log.
  std::string summary(bool dry_run) const;
};

// Returns the segment of the live pool, or null when there is none (missing,
// or its pool died).
using SegmentFinder = std::function<shm::Segment*()>;

// Reconciles the segment with the engine in one pass, from a single
// label-filtered list call. `find_segment` is called after that list call, so
// a pool that starts in between is seen with its segment. Without a segment,
// every managed container of this pool is an orphan. Only containers labelled
// io.berth.managed=true and io.berth.pool=config.segment are ever touched.
// Logs one line per action and a summary. Throws docker::Error when the list
// call fails, and what find_segment throws.
SweepReport sweep(const config::Config& config, docker::Client& docker, bool dry_run,
                  const SegmentFinder& find_segment);

}  // namespace berth::lifecycle
