#include "shm/robust_mutex.hpp"

#include <cerrno>
#include <system_error>

namespace berth::shm {
namespace {

void check(int result, const char* call) {
  if (result != 0) throw std::system_error(result, std::generic_category(), call);
}

}  // namespace

void initRobustMutex(pthread_mutex_t& mutex) {
  pthread_mutexattr_t attributes;
  check(pthread_mutexattr_init(&attributes), "pthread_mutexattr_init");

  try {
    check(pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED),
          "pthread_mutexattr_setpshared");
    check(pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST),
          "pthread_mutexattr_setrobust");
    check(pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ERRORCHECK),
          "pthread_mutexattr_settype");
    check(pthread_mutex_init(&mutex, &attributes), "pthread_mutex_init");
  } catch (...) {
    pthread_mutexattr_destroy(&attributes);
    throw;
  }

  pthread_mutexattr_destroy(&attributes);
}

LockResult lockRobustMutex(pthread_mutex_t& mutex) {
  int result = pthread_mutex_lock(&mutex);
  switch (result) {
    case 0:
      return LockResult::Acquired;
    case EOWNERDEAD:
      return LockResult::OwnerDied;
    case ENOTRECOVERABLE:
      return LockResult::NotRecoverable;
  }
  check(result, "pthread_mutex_lock");
  return LockResult::Acquired;
}

void markConsistent(pthread_mutex_t& mutex) {
  check(pthread_mutex_consistent(&mutex), "pthread_mutex_consistent");
}

void unlockRobustMutex(pthread_mutex_t& mutex) noexcept { pthread_mutex_unlock(&mutex); }

}  // namespace berth::shm
