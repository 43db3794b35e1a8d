#pragma once

#include <cstdint>
#include <string>

namespace berth::lifecycle {

// Returns true when a TCP socket can be bound to address:port now, i.e. no
// other process (docker-proxy included) listens there. SO_REUSEADDR is set,
// as dockerd's proxy sets it, so a port in TIME_WAIT counts as free.
bool portFree(const std::string& address, std::uint16_t port);

// Connects to address:port, sends "GET / HTTP/1.0" and returns true when the
// reply starts with "HTTP/". Gives up after timeout_ms.
bool answersHttp(const std::string& address, std::uint16_t port, int timeout_ms);

}  // namespace berth::lifecycle
