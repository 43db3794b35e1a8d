#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

namespace berth::log {
namespace {

std::atomic<Level> g_level{Level::Info};

const char* levelName(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warning:
      return "warning";
    case Level::Error:
      return "error";
  }
  return "info";
}

}  // namespace

void setLevel(Level level) { g_level.store(level); }

void write(Level level, std::string_view message) {
  if (level < g_level.load()) return;

  std::string line;
  line.reserve(message.size() + 32);
  line += levelName(level);
  line += " berth[";
  line += std::to_string(getpid());
  line += "]: ";
  line += message;
  line += '\n';

  // One write so that concurrent lines stay whole; a failed log write is
  // dropped because there is nowhere left to report it.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace berth::log
