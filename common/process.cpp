#include "common/process.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

namespace berth {

bool processAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::uint64_t processStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!file || !std::getline(file, stat)) return 0;

  // Field 2, the command name, is in parentheses and may hold spaces, so
  // count fields from the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int number = 3; number < 22 && fields >> field; ++number) {
    // Field 3 is the state: a zombie (Z) or dead (X) process has ended.
    if (number == 3 && (field == "Z" || field == "X")) return 0;
  }
  std::uint64_t start = 0;
  fields >> start;
  return start;
}

}  // namespace berth
