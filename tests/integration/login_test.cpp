// Login and logout through a real nginx, a real pool and a real dockerd.

#include <gtest/gtest.h>

#include <regex>

#include "lifecycle/probe.hpp"
#include "shm/segment.hpp"
#include "tests/support/json.hpp"
#include "tests/support/stack.hpp"

namespace berth::testing {
namespace {

bool isContainerId(const std::string& id) {
  return std::regex_match(id, std::regex("[0-9a-f]{64}"));
}

TEST(IntegrationLogin, LoginStartsContainerLogoutDestroysIt) {
  Stack stack;

  const HttpResponse response = login(stack, "alice", "alice-pass");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.headers.at("content-type"), "application/json");

  const auto body = parseJson(response.body);
  ASSERT_FALSE(body.HasParseError()) << response.body;
  EXPECT_EQ(stringMember(body, "user"), "alice");
  EXPECT_EQ(stringMember(body, "state"), "running");
  const unsigned port = uintMember(body, "port");
  EXPECT_GE(port, stack.portMin());
  EXPECT_LE(port, stack.portMax());
  EXPECT_EQ(stringMember(body, "url"), "http://127.0.0.1:" + std::to_string(port) + "/");
  const std::string container_id = stringMember(body, "container");
  ASSERT_TRUE(isContainerId(container_id)) << container_id;

  // The cookie: a 256-bit token, HttpOnly, SameSite=Strict.
  const std::string token = response.sessionCookie();
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{64}"))) << token;
  ASSERT_EQ(response.set_cookies.size(), 1u);
  EXPECT_NE(response.set_cookies[0].find("HttpOnly"), std::string::npos);
  EXPECT_NE(response.set_cookies[0].find("SameSite=Strict"), std::string::npos);

  // The container runs with berth's labels and responds to HTTP on the port.
  const docker::Container container = testDocker().inspect(container_id);
  EXPECT_EQ(container.state, "running");
  EXPECT_EQ(container.labels.at("io.berth.managed"), "true");
  EXPECT_EQ(container.labels.at("io.berth.user"), "alice");
  EXPECT_EQ(container.labels.at("io.berth.pool"), stack.segment());
  EXPECT_FALSE(container.labels.at("io.berth.session").empty());
  EXPECT_EQ(container.host_port, port);
  const HttpResponse workspace = http("GET", stringMember(body, "url"));
  EXPECT_EQ(workspace.status, 200) << workspace.error;

  // The cookie names the session.
  const std::string cookie = "Cookie: berth_session=" + token;
  const HttpResponse session = http("GET", stack.url("/api/session"), "", {cookie});
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(uintMember(parseJson(session.body), "port"), port);

  // Logout: container gone, port free, cookie expired, session unknown.
  const HttpResponse logout = http("POST", stack.url("/logout"), "", {cookie});
  ASSERT_EQ(logout.status, 200) << logout.body;
  ASSERT_EQ(logout.set_cookies.size(), 1u);
  EXPECT_EQ(logout.set_cookies[0].rfind("berth_session=;", 0), 0u) << logout.set_cookies[0];
  EXPECT_NE(logout.set_cookies[0].find("Max-Age=0"), std::string::npos);

  EXPECT_THROW(
      {
        try {
          testDocker().inspect(container_id);
        } catch (const docker::Error& error) {
          EXPECT_TRUE(error.notFound()) << error.what();
          throw;
        }
      },
      docker::Error);
  EXPECT_TRUE(lifecycle::portFree("127.0.0.1", static_cast<std::uint16_t>(port)));
  EXPECT_TRUE(stack.containers().empty());
  EXPECT_EQ(http("GET", stack.url("/api/session"), "", {cookie}).status, 401);
}

TEST(IntegrationLogin, SecondLoginReusesRunningContainer) {
  Stack stack;

  const HttpResponse first = login(stack, "bob", "bob-pass");
  const HttpResponse second = login(stack, "bob", "bob-pass");
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(second.status, 200) << second.body;

  const auto first_body = parseJson(first.body);
  const auto second_body = parseJson(second.body);
  EXPECT_EQ(stringMember(first_body, "container"), stringMember(second_body, "container"));
  EXPECT_EQ(uintMember(first_body, "port"), uintMember(second_body, "port"));
  EXPECT_EQ(stack.containers().size(), 1u);

  // Both browsers stay logged in.
  EXPECT_NE(first.sessionCookie(), second.sessionCookie());
  EXPECT_EQ(getSession(stack, first.sessionCookie()).status, 200);
  EXPECT_EQ(getSession(stack, second.sessionCookie()).status, 200);
}

TEST(IntegrationLogin, LoginReplacesVanishedContainer) {
  Stack stack;
  const HttpResponse first = login(stack, "alice", "alice-pass");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string first_id = stringMember(parseJson(first.body), "container");

  // The container is gone before any sweep ran.
  testDocker().remove(first_id);
  const HttpResponse second = login(stack, "alice", "alice-pass");
  ASSERT_EQ(second.status, 200) << second.body;
  const auto body = parseJson(second.body);
  EXPECT_NE(stringMember(body, "container"), first_id);
  EXPECT_EQ(http("GET", stringMember(body, "url")).status, 200);
  EXPECT_EQ(stack.containers().size(), 1u);
}

TEST(IntegrationLogin, LoginFinishesStopLeftByDeadWorker) {
  Stack stack;
  const HttpResponse first = login(stack, "alice", "alice-pass");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string first_id = stringMember(parseJson(first.body), "container");

  // A worker began alice's logout and died before removing the container.
  auto segment = shm::Segment::open({stack.segment(), stack.portMin(), stack.portMax()});
  const auto session = segment->findByUser("alice");
  ASSERT_TRUE(session.has_value());
  ASSERT_TRUE(segment->beginStop(session->slot, session->generation).has_value());

  const HttpResponse second = login(stack, "alice", "alice-pass");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(stringMember(parseJson(second.body), "container"), first_id);
  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_NE(containers[0].id, first_id);
}

TEST(IntegrationLogin, FormLoginRedirectsToWorkspace) {
  Stack stack;

  const HttpResponse response = http("POST", stack.url("/login"), "user=alice&password=alice-pass",
                                     {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(response.status, 303) << response.body;
  const auto containers = stack.containers();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(response.headers.at("location"),
            "http://127.0.0.1:" + std::to_string(containers[0].host_port) + "/");
  EXPECT_FALSE(response.sessionCookie().empty());
}

TEST(IntegrationLogin, HealthzReportsEngine) {
  Stack stack;

  const HttpResponse response = http("GET", stack.url("/healthz"));
  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = parseJson(response.body);
  EXPECT_EQ(stringMember(body, "status"), "ok");
  EXPECT_FALSE(stringMember(body, "engine_api").empty());
}

}  // namespace
}  // namespace berth::testing
