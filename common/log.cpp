#include "common/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace berth::log {
namespace {

std::atomic<Level> g_level{Level::Info};
// Returns true when stderr is the journal stream that systemd names in
// JOURNAL_STREAM as "DEVICE:INODE" (systemd.exec(5)). A child started from
// such a service with another stderr inherits the variable, hence the check.
bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat info {};
  if (stream == nullptr || ::fstat(STDERR_FILENO, &info) != 0) return false;
  const std::string expected = std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino);
  return expected == stream;
}

const bool g_journal = stderrIsJournal();

const char* journalPriority(Level level) {
  switch (level) {
    case Level::Debug:
      return "<7>";
    case Level::Info:
      return "<6>";
    case Level::Warning:
      return "<4>";
    case Level::Error:
      return "<3>";
  }
  return "<6>";
}

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
  if (g_journal) {
    // journald reads a "<N>" prefix as the syslog priority and adds the
    // process name and pid itself (sd-daemon(3)).
    line += journalPriority(level);
    line += levelName(level);
    line += ": ";
  } else {
    line += levelName(level);
    line += " berth[";
    line += std::to_string(getpid());
    line += "]: ";
  }
  line += message;
  line += '\n';

  // One write so that concurrent lines stay whole; a failed log write is
  // dropped because there is nowhere left to report it.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace berth::log
