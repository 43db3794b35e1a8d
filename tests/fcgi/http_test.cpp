#include "fcgi/http.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <variant>
#include <vector>

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
  request.authorization = "Bearer    ";
  EXPECT_FALSE(request.bearerToken().has_value());
  request.authorization = "Bearertok-1";
  EXPECT_FALSE(request.bearerToken().has_value());
}

TEST(HttpBearer, SchemeIgnoresCase) {
  Request request;
  for (const char* scheme : {"bearer", "BEARER", "bEaReR"}) {
    request.authorization = std::string(scheme) + " tok-1";
    EXPECT_EQ(request.bearerToken(), "tok-1") << scheme;
  }
  request.authorization = "bearers tok-1";
  EXPECT_FALSE(request.bearerToken().has_value());
}

TEST(HttpMediaType, IgnoresCaseAndParameters) {
  EXPECT_TRUE(hasMediaType("application/json", "application/json"));
  EXPECT_TRUE(hasMediaType("Application/JSON; charset=utf-8", "application/json"));
  EXPECT_TRUE(hasMediaType("application/json ;charset=utf-8", "application/json"));
  EXPECT_FALSE(hasMediaType("", "application/json"));
  EXPECT_FALSE(hasMediaType("application/jsonx", "application/json"));
  EXPECT_FALSE(hasMediaType("text/plain", "application/json"));
}

TEST(HttpForm, DecodesFields) {
  const auto parsed = parseForm("user=al%20ice&password=a+b%2Bc&empty=&flag");
  ASSERT_TRUE(std::holds_alternative<FormFields>(parsed));
  const FormFields& fields = std::get<FormFields>(parsed);
  EXPECT_EQ(fields.at("user"), "al ice");
  EXPECT_EQ(fields.at("password"), "a b+c");
  EXPECT_EQ(fields.at("empty"), "");
  EXPECT_EQ(fields.at("flag"), "");
}

// Asserts that `parsed` is a 400 problem of `type` naming `field`.
template <typename Parsed>
void expectBadRequest(const Parsed& parsed, const std::string& type, const std::string& field) {
  ASSERT_TRUE(std::holds_alternative<Response>(parsed));
  const Response& response = std::get<Response>(parsed);
  EXPECT_EQ(response.status, 400);
  const auto body = testing::parseJson(response.body);
  ASSERT_FALSE(body.HasParseError()) << response.body;
  EXPECT_EQ(testing::stringMember(body, "type"), "urn:berth:problem:" + type) << response.body;
  EXPECT_EQ(testing::stringMember(body, "field"), field) << response.body;
}

TEST(HttpForm, RejectsBadEscapes) {
  for (const char* body : {"user=%", "user=%4", "user=%zz", "us%g0er=alice"}) {
    SCOPED_TRACE(body);
    expectBadRequest(parseForm(body), "invalid-form", "body");
  }
}

TEST(HttpForm, RejectsDuplicateField) {
  expectBadRequest(parseForm("user=alice&password=x&user=bob"), "duplicate-field", "user");
  // A duplicate is found after decoding, so "us%65r" is the same field as "user".
  expectBadRequest(parseForm("user=alice&us%65r=bob"), "duplicate-field", "user");
  expectBadRequest(parseForm("flag&flag="), "duplicate-field", "flag");
}

TEST(HttpJson, ParsesObject) {
  const auto parsed = parseJsonObject(R"({"user":"alice","nested":{"a":1}})");
  ASSERT_TRUE(std::holds_alternative<rapidjson::Document>(parsed));
  EXPECT_EQ(testing::stringMember(std::get<rapidjson::Document>(parsed), "user"), "alice");
}

TEST(HttpJson, RejectsNonObjects) {
  for (const char* body : {"", "[\"alice\"]", "{\"user\":", "\"alice\"", "null"}) {
    SCOPED_TRACE(body);
    expectBadRequest(parseJsonObject(body), "invalid-json", "body");
  }
}

TEST(HttpJson, RejectsDuplicateMember) {
  expectBadRequest(parseJsonObject(R"({"user":"alice","password":"x","user":"bob"})"),
                   "duplicate-field", "user");
  // The escape decodes to "user", so the two names are equal.
  expectBadRequest(parseJsonObject(R"({"user":"alice","\u0075ser":"bob"})"), "duplicate-field",
                   "user");
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

TEST(HttpProblem, ReplacesInvalidUtf8) {
  const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"caf\xC3\xA9 \xF0\x9F\x90\xB3", "caf\xC3\xA9 \xF0\x9F\x90\xB3"},
      {"/api/\xFF\xFE", "/api/" + kReplacement + kReplacement},
      {"cut \xC3", "cut " + kReplacement},
      {"overlong \xC0\xAF", "overlong " + kReplacement + kReplacement},
      {"surrogate \xED\xA0\x80", "surrogate " + kReplacement + kReplacement + kReplacement},
      {"too high \xF4\x90\x80\x80",
       "too high " + kReplacement + kReplacement + kReplacement + kReplacement},
  };

  for (const auto& [text, expected] : cases) {
    const Response response = problem(400, "duplicate-field", "Duplicate field", text, text);
    rapidjson::Document body;
    body.Parse<rapidjson::kParseValidateEncodingFlag>(response.body.c_str());
    ASSERT_FALSE(body.HasParseError()) << response.body;
    EXPECT_EQ(testing::stringMember(body, "detail"), expected) << response.body;
    EXPECT_EQ(testing::stringMember(body, "field"), expected) << response.body;
  }
}

}  // namespace
}  // namespace berth::fcgi
