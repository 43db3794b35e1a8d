#include "fcgi/proctitle.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace berth::fcgi {
namespace {

char* g_title_start = nullptr;
std::size_t g_title_size = 0;

}  // namespace

void initProcessTitle(int argc, char** argv) {
  if (argc == 0 || argv[0] == nullptr) return;

  // argv strings and then environ strings lie back to back; find where the
  // contiguous run ends.
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc; ++i) {
    if (argv[i] != end) break;
    end = argv[i] + std::strlen(argv[i]) + 1;
  }
  std::size_t count = 0;
  while (environ[count] != nullptr) ++count;
  for (std::size_t i = 0; i < count; ++i) {
    if (environ[i] != end) break;
    end = environ[i] + std::strlen(environ[i]) + 1;
  }

  // Copy the environment elsewhere; the copies live for the whole process.
  char** moved = new char*[count + 1];
  for (std::size_t i = 0; i < count; ++i) moved[i] = strdup(environ[i]);
  moved[count] = nullptr;
  environ = moved;

  // Keep later argv[i] readable for the caller by copying them too.
  for (int i = 1; i < argc; ++i) argv[i] = strdup(argv[i]);

  g_title_start = argv[0];
  g_title_size = static_cast<std::size_t>(end - argv[0]);
}

void setProcessTitle(const std::string& title) {
  ::prctl(PR_SET_NAME, title.substr(0, 15).c_str(), 0, 0, 0);
  if (g_title_start == nullptr || g_title_size < 2) return;

  const std::size_t length = std::min(title.size(), g_title_size - 1);
  std::memcpy(g_title_start, title.data(), length);
  std::memset(g_title_start + length, 0, g_title_size - length);
}

}  // namespace berth::fcgi
