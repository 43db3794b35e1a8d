#pragma once

#include <sys/types.h>

#include <string>

#include "config/config.hpp"

namespace berth::fcgi {

// The pool's FastCGI listening socket on config.listen.
struct ListenSocket {
  int fd = -1;
  ino_t inode = 0;  // of the socket file, to tell it from a later one at the same path
};

// Opens the FastCGI socket with libfcgi, after checking what libfcgi would
// otherwise end the process for (a path over 107 bytes, a missing folder) and
// that no other process listens on the path, which libfcgi would silently
// take over. Sets config.socket_mode. Throws std::runtime_error saying what
// to change.
ListenSocket openListenSocket(const config::Config& config);

// Closes the socket and unlinks its file, unless another process has
// replaced the file since it was opened.
void closeListenSocket(const ListenSocket& socket, const std::string& path);

}  // namespace berth::fcgi
