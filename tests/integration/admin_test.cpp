// The management API with the right token, against a real pool and dockerd.

#include <gtest/gtest.h>

#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

TEST(IntegrationAdmin, StartListGetAndDestroy) {
  Stack stack;
  const std::string auth = "Authorization: Bearer " + stack.adminToken();

  const HttpResponse started = http("POST", stack.url("/api/containers"), R"({"user":"carol"})",
                                    {auth, "Content-Type: application/json"});
  ASSERT_EQ(started.status, 201) << started.body;
  const auto started_body = parseJson(started.body);
  EXPECT_EQ(stringMember(started_body, "user"), "carol");
  EXPECT_EQ(stringMember(started_body, "state"), "running");

  const HttpResponse again = http("POST", stack.url("/api/containers"), R"({"user":"carol"})",
                                  {auth, "Content-Type: application/json"});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(stringMember(parseJson(again.body), "container"),
            stringMember(started_body, "container"));

  const HttpResponse listed = http("GET", stack.url("/api/containers"), "", {auth});
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto list_body = parseJson(listed.body);
  ASSERT_TRUE(list_body.IsObject()) << listed.body;
  ASSERT_TRUE(list_body.HasMember("containers")) << listed.body;
  ASSERT_TRUE(list_body["containers"].IsArray()) << listed.body;
  ASSERT_EQ(list_body["containers"].Size(), 1u);
  EXPECT_EQ(stringMember(list_body["containers"][0], "user"), "carol");

  const HttpResponse one = http("GET", stack.url("/api/containers/carol"), "", {auth});
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(uintMember(parseJson(one.body), "port"), uintMember(started_body, "port"));

  EXPECT_EQ(http("GET", stack.url("/api/containers/dave"), "", {auth}).status, 404);
  EXPECT_EQ(http("GET", stack.url("/api/containers/..."), "", {auth}).status, 422);
  EXPECT_EQ(http("POST", stack.url("/api/containers"), R"({"user":"a/b"})",
                 {auth, "Content-Type: application/json"})
                .status,
            422);

  const HttpResponse destroyed = http("DELETE", stack.url("/api/containers/carol"), "", {auth});
  EXPECT_EQ(destroyed.status, 204) << destroyed.body;
  EXPECT_TRUE(stack.containers().empty());
  EXPECT_EQ(http("GET", stack.url("/api/containers/carol"), "", {auth}).status, 404);
}

TEST(IntegrationAdmin, BearerSchemeIgnoresCase) {
  Stack stack;

  for (const char* scheme : {"bearer", "BEARER", "Bearer"}) {
    const HttpResponse listed =
        http("GET", stack.url("/api/containers"), "",
             {"Authorization: " + std::string(scheme) + " " + stack.adminToken()});
    EXPECT_EQ(listed.status, 200) << scheme << ": " << listed.body;
  }
}

}  // namespace
}  // namespace berth::testing
