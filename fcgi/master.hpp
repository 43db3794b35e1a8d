#pragma once

#include "config/config.hpp"

namespace berth::fcgi {

// Runs the pool until SIGTERM, SIGINT or SIGHUP: creates the segment (replacing the
// segment of a pool that died, whose containers are then orphans), sweeps,
// opens the FastCGI socket, forks config.workers workers and restarts any
// that dies. On any of those signals it stops the workers, destroys every
// container of the pool, removes the segment and the socket, and returns 0.
// Returns 1 when it cannot start; the log gives the reason.
int runMaster(const config::Config& config);

}  // namespace berth::fcgi
