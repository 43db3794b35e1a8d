/*
 * A test-only LD_PRELOAD library that injects faults into `berth serve`
 * without changing berth's code. Each fault is off unless its environment
 * variable is set.
 *
 * BERTH_TEST_HOLD_LOCK=FILE: when FILE exists, the first thread about to
 * unlock a process-shared robust mutex (the segment's lock) removes FILE,
 * writes its pid to FILE.pid and sleeps forever instead of unlocking, so a
 * test can SIGKILL a real worker that holds the lock.
 *
 * BERTH_TEST_PROBE_SEES_FREE=1: bind(2) on TCP sockets succeeds without
 * binding, so berth's port probe finds every port free and Docker itself
 * refuses the ports that another process holds, as it does when a process
 * takes a port between berth's probe and the container's start.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* glibc's mutex kind bits (nptl/pthreadP.h): the robust and shared flags. */
#define KIND_ROBUST 16
#define KIND_PSHARED 128

static void holdForever(const char* trigger) {
  char path[4096];
  char text[32];
  snprintf(path, sizeof path, "%s.pid", trigger);
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int length = snprintf(text, sizeof text, "%d\n", (int)getpid());
  if (fd >= 0) {
    ssize_t written = write(fd, text, (size_t)length);
    (void)written;
    close(fd);
  }
  for (;;) pause();
}

int pthread_mutex_unlock(pthread_mutex_t* mutex) {
  static int (*real_unlock)(pthread_mutex_t*);
  if (real_unlock == NULL) {
    real_unlock = (int (*)(pthread_mutex_t*))dlsym(RTLD_NEXT, "pthread_mutex_unlock");
  }

  const char* trigger = getenv("BERTH_TEST_HOLD_LOCK");
  const int kind = mutex->__data.__kind;
  if (trigger != NULL && (kind & KIND_ROBUST) && (kind & KIND_PSHARED) &&
      unlink(trigger) == 0) {
    holdForever(trigger);
  }
  return real_unlock(mutex);
}

int bind(int fd, const struct sockaddr* address, socklen_t length) {
  static int (*real_bind)(int, const struct sockaddr*, socklen_t);
  if (real_bind == NULL) {
    real_bind = (int (*)(int, const struct sockaddr*, socklen_t))dlsym(RTLD_NEXT, "bind");
  }

  const char* probe_sees_free = getenv("BERTH_TEST_PROBE_SEES_FREE");
  const int inet = address->sa_family == AF_INET || address->sa_family == AF_INET6;
  if (probe_sees_free != NULL && strcmp(probe_sees_free, "1") == 0 && inet) return 0;
  return real_bind(fd, address, length);
}
