#include <gtest/gtest.h>

#include "fcgi/handlers.hpp"
#include "tests/support/json.hpp"

namespace berth::fcgi {
namespace {

using Kind = lifecycle::Error::Kind;

struct ProblemCase {
  Kind kind;
  std::string message;  // the lifecycle::Error's what()
  int status;
  std::string type;
};

TEST(LifecycleProblem, HidesEngineMessages) {
  const std::vector<ProblemCase> cases = {
      {Kind::EngineUnavailable,
       "Docker engine unavailable: cannot connect to /var/run/docker.sock: Connection refused", 503,
       "engine-unavailable"},
      {Kind::Engine, "image registry.internal/secret:1 not found; build it with `make image`", 502,
       "engine-error"},
      {Kind::NameTaken,
       "a container named berth_pool_alice exists and berth does not manage it; rename or remove "
       "it",
       409, "name-taken"},
  };

  for (const auto& [kind, message, status, type] : cases) {
    const Response response = lifecycleProblem(lifecycle::Error(kind, message));
    EXPECT_EQ(response.status, status) << type;
    const auto body = testing::parseJson(response.body);
    ASSERT_FALSE(body.HasParseError()) << response.body;
    EXPECT_EQ(testing::stringMember(body, "type"), "urn:berth:problem:" + type);

    const std::string detail = testing::stringMember(body, "detail");
    EXPECT_FALSE(detail.empty()) << type;
    for (const char* internal : {"/var/run/docker.sock", "registry.internal", "berth_pool_alice"}) {
      EXPECT_EQ(detail.find(internal), std::string::npos) << type << ": " << detail;
    }
  }
}

TEST(LifecycleProblem, KeepsUserFacingDetails) {
  const std::vector<ProblemCase> cases = {
      {Kind::Capacity, "every session slot is in use (capacity 8)", 503, "capacity"},
      {Kind::NotReady, "the container did not respond to HTTP on port 8001 within 30 s", 504,
       "not-ready"},
      {Kind::Ended, "the session ended while it was starting", 409, "session-ended"},
  };

  for (const auto& [kind, message, status, type] : cases) {
    const Response response = lifecycleProblem(lifecycle::Error(kind, message));
    EXPECT_EQ(response.status, status) << type;
    const auto body = testing::parseJson(response.body);
    ASSERT_FALSE(body.HasParseError()) << response.body;
    EXPECT_EQ(testing::stringMember(body, "type"), "urn:berth:problem:" + type);
    EXPECT_EQ(testing::stringMember(body, "detail"), message);
  }
}

}  // namespace
}  // namespace berth::fcgi
