#pragma once

#include <pthread.h>

// A pthread mutex in shared memory that survives the death of its holder.
// These functions throw std::system_error naming the failed call on errors
// they do not report otherwise.
namespace berth::shm {

// Initialises `mutex` as process-shared, robust and error-checking, so that a
// thread locking it twice gets EDEADLK instead of waiting forever.
void initRobustMutex(pthread_mutex_t& mutex);

enum class LockResult {
  Acquired,
  // The caller holds the lock, but its previous holder died while holding it:
  // repair the data it protects, then call markConsistent().
  OwnerDied,
  // A holder that got OwnerDied unlocked without markConsistent(). The caller
  // does not hold the lock, and every later lock attempt fails the same way.
  NotRecoverable,
};

LockResult lockRobustMutex(pthread_mutex_t& mutex);

void markConsistent(pthread_mutex_t& mutex);

// Errors (EPERM when the caller does not hold the lock) are ignored, because
// this runs in destructors.
void unlockRobustMutex(pthread_mutex_t& mutex) noexcept;

}  // namespace berth::shm
