#include "fcgi/http.hpp"

#include <gtest/gtest.h>

#include "tests/support/json.hpp"

namespace berth::fcgi {
namespace {

TEST(HttpCookie, FindsNamedCookie) {
  Request request;
  request.cookie = "theme=dark; berth_session=abc123;other=1";
  EXPECT_EQ(request.cookieValue("berth_session"), "abc123");
  EXPECT_EQ(request.cookieValue("other"), "1");
  EXPECT_FALSE(request.cookieValue("berth").has_value());
  EXPECT_FALSE(request.cookieValue("missing").has_value());
}

TEST(HttpBearer, ParsesSchemeAndToken) {
  Request request;
  request.authorization = "Bearer tok-1 ";
  EXPECT_EQ(request.bearerToken(), "tok-1");
  request.authorization = "Basic dXNlcg==";
  EXPECT_FALSE(request.bearerToken().has_value());
  request.authorization = "Bearer ";
  EXPECT_FALSE(request.bearerToken().has_value());
}

TEST(HttpForm, DecodesFields) {
  const auto fields = parseForm("user=al%20ice&password=a+b%2Bc&empty=&flag");
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->at("user"), "al ice");
  EXPECT_EQ(fields->at("password"), "a b+c");
  EXPECT_EQ(fields->at("empty"), "");
  EXPECT_EQ(fields->at("flag"), "");
}

TEST(HttpForm, RejectsBadEscapes) {
  EXPECT_FALSE(parseForm("user=%").has_value());
  EXPECT_FALSE(parseForm("user=%4").has_value());
  EXPECT_FALSE(parseForm("user=%zz").has_value());
}

TEST(HttpProblem, IsProblemJsonWithField) {
  const Response response = problem(422, "invalid-user-name", "Invalid user name",
                                    "the user name has a \"quote\"", "user");
  EXPECT_EQ(response.status, 422);
  ASSERT_FALSE(response.headers.empty());
  EXPECT_EQ(response.headers[0].second, "application/problem+json");
  const auto body = testing::parseJson(response.body);
  ASSERT_FALSE(body.HasParseError()) << response.body;
  EXPECT_EQ(testing::stringMember(body, "type"), "urn:berth:problem:invalid-user-name");
  EXPECT_EQ(testing::stringMember(body, "detail"), "the user name has a \"quote\"");
  EXPECT_EQ(testing::stringMember(body, "field"), "user");
  EXPECT_EQ(testing::uintMember(body, "status"), 422u);
}

}  // namespace
}  // namespace berth::fcgi
