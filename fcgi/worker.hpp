#pragma once

#include "config/config.hpp"

namespace berth::fcgi {

// Runs one worker process: opens the segment, starts config.threads request
// threads that accept FastCGI connections on listen_fd, and serves until
// SIGTERM, which ends the process at once (the master reaps what is left).
// Never returns.
[[noreturn]] void runWorker(int index, int listen_fd, const config::Config& config);

}  // namespace berth::fcgi
