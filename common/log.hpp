#pragma once

#include <string_view>

namespace berth::log {

enum class Level { Debug, Info, Warning, Error };

// Writes one line to stderr: "LEVEL berth[pid]: message", or under systemd's
// journal "<PRIORITY>LEVEL: message" so that journalctl -p filters it. Each call is one
// write(2), so lines from concurrent threads and processes do not interleave.
// Messages carry user, session, container id and port where they apply, and
// never a token or password.
void write(Level level, std::string_view message);

inline void info(std::string_view message) { write(Level::Info, message); }
inline void warning(std::string_view message) { write(Level::Warning, message); }
inline void error(std::string_view message) { write(Level::Error, message); }

// Sets the lowest level written; Info by default.
void setLevel(Level level);

}  // namespace berth::log
