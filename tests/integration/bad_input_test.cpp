// Malformed and unauthorised requests, and requests that berth or nginx
// cannot serve: each gets a problem+json that names what is wrong without
// berth's internals, and no container is made or left behind.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

struct BadBody {
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

  const std::vector<BadBody> cases = {
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
      {"duplicate user", json, R"({"user":"alice","password":"alice-pass","user":"bob"})", 400,
       "user"},
      {"duplicate password", json, R"({"password":"x","user":"alice","password":"alice-pass"})",
       400, "password"},
      {"form duplicate user", form, "user=alice&password=alice-pass&user=bob", 400, "user"},
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

TEST(IntegrationBadInput, AdminStartRejectsBadBodies) {
  Stack stack;
  const std::string json = "application/json";

  const std::vector<BadBody> cases = {
      {"no Content-Type", "", R"({"user":"carol"})", 415, "Content-Type"},
      {"text body", "text/plain", R"({"user":"carol"})", 415, "Content-Type"},
      {"form body", "application/x-www-form-urlencoded", "user=carol", 415, "Content-Type"},
      {"duplicate user", json, R"({"user":"carol","user":"dave"})", 400, "user"},
      {"invalid JSON", json, R"({"user":)", 400, "body"},
      {"JSON array", json, R"(["carol"])", 400, "body"},
      {"missing user", json, R"({})", 422, "user"},
  };

  for (const auto& bad : cases) {
    // libcurl sends no Content-Type at all for "Content-Type:" with no value.
    const std::vector<std::string> headers = {"Authorization: Bearer " + stack.adminToken(),
                                              "Content-Type: " + bad.content_type};
    expectProblem(http("POST", stack.url("/api/containers"), bad.body, headers), bad.status,
                  bad.field, bad.name);
  }
  EXPECT_TRUE(stack.containers().empty());
}

TEST(IntegrationBadInput, EngineErrorHidesEngineMessage) {
  StackOptions options;
  options.extra_config = "image = berth/no-such-image:missing\n";
  Stack stack(options);

  const HttpResponse response = login(stack, "alice", "alice-pass");
  expectProblem(response, 502, "", "missing image");
  const auto body = parseJson(response.body);
  EXPECT_EQ(stringMember(body, "type"), "urn:berth:problem:engine-error");
  EXPECT_EQ(response.body.find("no-such-image"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find("docker.sock"), std::string::npos) << response.body;

  // The operator finds the engine's message, with the user, in berth's log.
  const std::string log = stack.berthLog();
  EXPECT_NE(log.find("login failed: user=alice"), std::string::npos) << log;
  EXPECT_NE(log.find("berth/no-such-image:missing not found"), std::string::npos) << log;
  EXPECT_TRUE(stack.containers().empty());
}

TEST(IntegrationBadInput, BerthErrorsPassThroughNginx) {
  StackOptions options;
  options.port_count = 1;
  Stack stack(options);

  const HttpResponse alice = login(stack, "alice", "alice-pass");
  ASSERT_EQ(alice.status, 200) << alice.body;

  // berth's own 503, not nginx's page for a pool that is down.
  const HttpResponse bob = login(stack, "bob", "bob-pass");
  expectProblem(bob, 503, "", "no free port");
  EXPECT_EQ(stringMember(parseJson(bob.body), "type"), "urn:berth:problem:capacity") << bob.body;
}

TEST(IntegrationBadInput, BerthTimeoutPassesThroughNginx) {
  // The image serves HTTP on 4200, so nothing responds on 4201 and the start
  // ends with berth's own 504.
  StackOptions options;
  options.extra_config = "container_port = 4201\nready_timeout = 2\n";
  Stack stack(options);

  const HttpResponse response = login(stack, "alice", "alice-pass");
  expectProblem(response, 504, "", "container not ready");
  EXPECT_EQ(stringMember(parseJson(response.body), "type"), "urn:berth:problem:not-ready")
      << response.body;
  EXPECT_TRUE(stack.containers().empty());
}

TEST(IntegrationBadInput, StoppedPoolGivesProblemJson) {
  Stack stack;
  // The Stack reaps berth when the test ends; this test only stops it.
  ASSERT_EQ(::kill(stack.berthPid(), SIGTERM), 0);

  HttpResponse response;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    response = http("GET", stack.url("/api/session"));
    if (response.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  expectProblem(response, 503, "", "GET /api/session");

  for (const char* path : {"/login", "/logout", "/api/containers", "/healthz"}) {
    const HttpResponse stopped =
        http("POST", stack.url(path), "{}", {"Content-Type: application/json"});
    expectProblem(stopped, 503, "", std::string("POST ") + path);
    const auto body = parseJson(stopped.body);
    EXPECT_EQ(stringMember(body, "type"), "urn:berth:problem:pool-unavailable") << path;
    EXPECT_EQ(stringMember(body, "title"), "berth is not running") << path;
  }
}

}  // namespace
}  // namespace berth::testing
