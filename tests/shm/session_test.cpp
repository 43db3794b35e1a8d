#include "shm/session.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::shm {
namespace {

TEST(ShmSession, StateNames) {
  EXPECT_EQ(std::string(stateName(State::Free)), "free");
  EXPECT_EQ(std::string(stateName(State::Starting)), "starting");
  EXPECT_EQ(std::string(stateName(State::Running)), "running");
  EXPECT_EQ(std::string(stateName(State::Stopping)), "stopping");
  EXPECT_EQ(std::string(stateName(static_cast<State>(9))), "invalid");
}

}  // namespace
}  // namespace berth::shm
