#pragma once

#include <cstdint>
#include <set>

namespace berth::lifecycle {

// Returns the local TCP ports of this network namespace that have at least
// one established connection, read from /proc/net/tcp and /proc/net/tcp6.
// A browser with a workspace open keeps a connection to the published port
// (shellinabox long-polls), and docker-proxy's end of it shows here.
// NOTE: with dockerd's userland proxy off, published ports are iptables
// rules without a host socket, and this finds no connections.
std::set<std::uint16_t> portsWithConnections();

}  // namespace berth::lifecycle
