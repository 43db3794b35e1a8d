// Malformed and unauthorised requests: each gets a 4xx problem+json naming
// what is wrong, and no container is made or removed.

#include <gtest/gtest.h>

#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

struct BadLogin {
  const char* name;
  std::string content_type;
  std::string body;
  long status;
  const char* field;  // expected "field" member, or "" for none
};

void expectProblem(const HttpResponse& response, long status, const std::string& field,
                   const std::string& name) {
  EXPECT_EQ(response.status, status) << name << ": " << response.body;
  const auto found = response.headers.find("content-type");
  ASSERT_NE(found, response.headers.end()) << name;
  EXPECT_EQ(found->second, "application/problem+json") << name;
  const auto body = parseJson(response.body);
  ASSERT_FALSE(body.HasParseError()) << name << ": " << response.body;
  EXPECT_EQ(stringMember(body, "type").rfind("urn:berth:problem:", 0), 0u) << name;
  EXPECT_FALSE(stringMember(body, "title").empty()) << name;
  EXPECT_FALSE(stringMember(body, "detail").empty()) << name;
  EXPECT_EQ(stringMember(body, "field"), field) << name << ": " << response.body;
  EXPECT_EQ(uintMember(body, "status"), static_cast<unsigned>(status)) << name;
}

TEST(IntegrationBadInput, LoginRejectsBadInputAndStartsNothing) {
  Stack stack;
  const std::string json = "application/json";
  const std::string form = "application/x-www-form-urlencoded";

  const std::vector<BadLogin> cases = {
      {"wrong password", json, R"({"user":"alice","password":"nope"})", 401, ""},
      {"unknown user", json, R"({"user":"mallory","password":"alice-pass"})", 401, ""},
      {"missing user", json, R"({"password":"alice-pass"})", 422, "user"},
      {"missing password", json, R"({"user":"alice"})", 422, "password"},
      {"empty password", json, R"({"user":"alice","password":""})", 422, "password"},
      {"user not a string", json, R"({"user":42,"password":"alice-pass"})", 422, "user"},
      {"invalid JSON", json, R"({"user":"alice",)", 400, "body"},
      {"JSON array", json, R"(["alice"])", 400, "body"},
      {"empty body", json, "", 400, "body"},
      {"slash in name", json, R"({"user":"al/ice","password":"x"})", 422, "user"},
      {"dot-dot name", json, R"({"user":"..","password":"x"})", 422, "user"},
      {"dot-dot inside", json, R"({"user":"a..b","password":"x"})", 422, "user"},
      {"space in name", json, R"({"user":"al ice","password":"x"})", 422, "user"},
      {"control character", json, R"({"user":"al\u0001ice","password":"x"})", 422, "user"},
      {"newline", json, R"({"user":"alice\n","password":"x"})", 422, "user"},
      {"300 characters", json, R"({"user":")" + std::string(300, 'a') + R"(","password":"x"})", 422,
       "user"},
      {"NUL in password", json, R"({"user":"alice","password":"alice-pass\u0000x"})", 422,
       "password"},
      {"form missing password", form, "user=alice", 422, "password"},
      {"form bad escape", form, "user=al%ZZice&password=x", 400, "body"},
      {"form slash", form, "user=..%2Fetc&password=x", 422, "user"},
      {"text body", "text/plain", "user=alice", 415, "Content-Type"},
  };

  for (const auto& bad : cases) {
    const HttpResponse response =
        http("POST", stack.url("/login"), bad.body, {"Content-Type: " + bad.content_type});
    expectProblem(response, bad.status, bad.field, bad.name);
    EXPECT_TRUE(response.set_cookies.empty()) << bad.name;
  }

  const std::string oversized =
      R"({"user":"alice","password":")" + std::string(20000, 'x') + R"("})";
  expectProblem(http("POST", stack.url("/login"), oversized, {"Content-Type: application/json"}),
                413, "body", "oversized body");

  EXPECT_EQ(http("GET", stack.url("/login")).status, 405);
  EXPECT_TRUE(stack.containers().empty());
}

TEST(IntegrationBadInput, LogoutWithoutValidCookieRemovesNothing) {
  Stack stack;
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200) << alice.body;

  expectProblem(http("POST", stack.url("/logout")), 401, "berth_session", "no cookie");
  expectProblem(http("POST", stack.url("/logout"), "", {"Cookie: berth_session="}), 401,
                "berth_session", "empty cookie");
  expectProblem(
      http("POST", stack.url("/logout"), "", {"Cookie: berth_session=" + std::string(64, 'a')}),
      401, "berth_session", "forged cookie");
  std::string altered = alice.sessionCookie();
  altered[0] = altered[0] == 'a' ? 'b' : 'a';
  expectProblem(http("POST", stack.url("/logout"), "", {"Cookie: berth_session=" + altered}), 401,
                "berth_session", "altered cookie");

  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].state, "running");
}

TEST(IntegrationBadInput, AdminApiRejectsMissingOrWrongToken) {
  Stack stack;
  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200) << alice.body;

  const std::vector<std::vector<std::string>> bad_headers = {
      {},
      {"Authorization: Bearer wrong-token"},
      {"Authorization: Bearer " + stack.adminToken() + "x"},
      {"Authorization: Basic " + stack.adminToken()},
  };
  for (const auto& headers : bad_headers) {
    const std::string name = headers.empty() ? "no header" : headers[0];
    expectProblem(http("GET", stack.url("/api/containers"), "", headers), 401, "Authorization",
                  name);
    auto post_headers = headers;
    post_headers.push_back("Content-Type: application/json");
    expectProblem(http("POST", stack.url("/api/containers"), R"({"user":"bob"})", post_headers),
                  401, "Authorization", name);
    expectProblem(http("DELETE", stack.url("/api/containers/alice"), "", headers), 401,
                  "Authorization", name);
  }

  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].labels.at("io.berth.user"), "alice");
  EXPECT_EQ(containers[0].state, "running");
}

}  // namespace
}  // namespace berth::testing
