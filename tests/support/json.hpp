#pragma once

#include <rapidjson/document.h>

#include <string>

namespace berth::testing {

// Parses a JSON response body; a parse error leaves the document
// HasParseError(), which the caller asserts on.
inline rapidjson::Document parseJson(const std::string& body) {
  rapidjson::Document document;
  document.Parse(body.c_str());
  return document;
}

// Returns the string member `key`, or "" when it is missing or not a string.
inline std::string stringMember(const rapidjson::Value& value, const char* key) {
  if (!value.IsObject()) return "";
  const auto member = value.FindMember(key);
  if (member == value.MemberEnd() || !member->value.IsString()) return "";
  return member->value.GetString();
}

// Returns the unsigned member `key`, or 0.
inline unsigned uintMember(const rapidjson::Value& value, const char* key) {
  if (!value.IsObject()) return 0;
  const auto member = value.FindMember(key);
  if (member == value.MemberEnd() || !member->value.IsUint()) return 0;
  return member->value.GetUint();
}

}  // namespace berth::testing
