#include "common/process.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth {
namespace {

TEST(ProcessStartTime, LiveProcessHasStartTime) {
  EXPECT_GT(processStartTime(::getpid()), 0u);
  EXPECT_EQ(processStartTime(::getpid()), processStartTime(::getpid()));
}

TEST(ProcessStartTime, ZombieCountsAsEnded) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);

  // Wait until the child has exited but is not reaped yet.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(processStartTime(child), 0u);
  EXPECT_TRUE(processAlive(child));  // kill(pid, 0) still finds a zombie

  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(processStartTime(child), 0u);
}

TEST(ProcessStartTime, NoSuchProcessIsZero) {
  EXPECT_EQ(processStartTime(0), 0u);
  EXPECT_EQ(processStartTime(-5), 0u);
}

}  // namespace
}  // namespace berth
