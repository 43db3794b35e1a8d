#pragma once

#include <sys/types.h>

#include <cstdint>

namespace berth {

// Returns true when a process with this pid exists (kill(pid, 0)).
bool processAlive(pid_t pid);

// Returns the start time of a process in clock ticks since boot (field 22 of
// /proc/PID/stat), or 0 when there is no such process or it has ended and
// waits to be reaped (a zombie). A pid together with
// its start time names one process even after the pid is reused.
std::uint64_t processStartTime(pid_t pid);

}  // namespace berth
