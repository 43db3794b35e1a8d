#include "lifecycle/connections.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace berth::lifecycle {
namespace {

// The "st" column value of an established connection (include/net/tcp_states.h).
constexpr const char* kEstablished = "01";

void addEstablishedPorts(const char* path, std::set<std::uint16_t>& ports) {
  std::ifstream table(path);
  std::string line;
  std::getline(table, line);  // column headings

  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state)) continue;
    if (state != kEstablished) continue;

    // local is ADDRESS:PORT in hex.
    const auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    ports.insert(static_cast<std::uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16)));
  }
}

}  // namespace

std::set<std::uint16_t> portsWithConnections() {
  std::set<std::uint16_t> ports;
  addEstablishedPorts("/proc/net/tcp", ports);
  addEstablishedPorts("/proc/net/tcp6", ports);
  return ports;
}

}  // namespace berth::lifecycle
