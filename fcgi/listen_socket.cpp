#include "fcgi/listen_socket.hpp"

#include <fcgiapp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace berth::fcgi {
namespace {

constexpr int kListenBacklog = 128;

// Returns true when a process accepts connections on the unix socket `path`.
bool someoneListens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

ino_t inodeOf(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

}  // namespace

ListenSocket openListenSocket(const config::Config& config) {
  const std::string& path = config.listen;
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error("listen path " + path + " is " + std::to_string(path.size()) +
                             " bytes; a unix socket path has at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1));
  }
  const std::string folder = path.substr(0, path.rfind('/'));
  if (!folder.empty() && ::access(folder.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error("cannot create the listen socket in " + folder + ": " +
                             std::strerror(errno) + "; create the folder or change `listen`");
  }
  if (someoneListens(path)) {
    throw std::runtime_error("another process listens on " + path +
                             " (another berth pool?); stop it or change `listen`");
  }

  ListenSocket socket;
  socket.fd = FCGX_OpenSocket(path.c_str(), kListenBacklog);
  if (socket.fd < 0) {
    throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(config.socket_mode)) != 0) {
    throw std::runtime_error("chmod of " + path + " failed: " + std::strerror(errno));
  }
  socket.inode = inodeOf(path);
  return socket;
}

void closeListenSocket(const ListenSocket& socket, const std::string& path) {
  if (socket.fd >= 0) ::close(socket.fd);
  if (socket.inode != 0 && inodeOf(path) == socket.inode) ::unlink(path.c_str());
}

}  // namespace berth::fcgi
