#include "docker/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <ctime>
#include <stdexcept>

namespace berth::docker {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void writeString(JsonWriter& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void parseDocument(rapidjson::Document& document, std::string_view body,
                   const std::string& operation) {
  document.Parse(body.data(), body.size());
  if (document.HasParseError()) {
    throw Error(Error::Kind::Protocol, operation, 0,
                "invalid JSON at offset " + std::to_string(document.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(document.GetParseError()));
  }
}

// Returns the member, or null when value is not an object or lacks it.
const rapidjson::Value* findMember(const rapidjson::Value& value, const char* name) {
  if (!value.IsObject()) return nullptr;

  auto member = value.FindMember(name);
  if (member == value.MemberEnd()) return nullptr;
  return &member->value;
}

// Returns the string member, or "" when it is missing or not a string.
std::string stringMember(const rapidjson::Value& value, const char* name) {
  const rapidjson::Value* member = findMember(value, name);
  if (member == nullptr || !member->IsString()) return "";
  return std::string(member->GetString(), member->GetStringLength());
}

std::string requireId(const rapidjson::Value& value, const std::string& operation) {
  std::string id = stringMember(value, "Id");
  if (id.empty()) {
    throw Error(Error::Kind::Protocol, operation, 0, "the response has no container \"Id\"");
  }
  return id;
}

// Reads a labels object. A null or missing object gives an empty map.
std::map<std::string, std::string> parseLabels(const rapidjson::Value* labels) {
  std::map<std::string, std::string> result;
  if (labels == nullptr || !labels->IsObject()) return result;

  for (const auto& label : labels->GetObject()) {
    if (!label.value.IsString()) continue;
    result.emplace(std::string(label.name.GetString(), label.name.GetStringLength()),
                   std::string(label.value.GetString(), label.value.GetStringLength()));
  }
  return result;
}

// Returns 0 for "", "0" and anything that is not a port number.
std::uint16_t parsePort(std::string_view text) {
  std::uint16_t port = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc() || end != text.data() + text.size()) return 0;
  return port;
}

// Returns the first host port bound to a TCP port in a map of the form
// {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "53/udp": null},
// the form of both NetworkSettings.Ports and HostConfig.PortBindings.
std::uint16_t firstHostPort(const rapidjson::Value* ports) {
  if (ports == nullptr || !ports->IsObject()) return 0;

  for (const auto& entry : ports->GetObject()) {
    std::string_view key(entry.name.GetString(), entry.name.GetStringLength());
    if (!key.ends_with("/tcp") || !entry.value.IsArray()) continue;

    for (const auto& binding : entry.value.GetArray()) {
      std::uint16_t port = parsePort(stringMember(binding, "HostPort"));
      if (port != 0) return port;
    }
  }
  return 0;
}

// Reads the "Ports" array of a list entry, whose elements look like
// {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 32768, "Type": "tcp"}.
std::uint16_t firstPublicPort(const rapidjson::Value* ports) {
  if (ports == nullptr || !ports->IsArray()) return 0;

  for (const auto& port : ports->GetArray()) {
    const rapidjson::Value* public_port = findMember(port, "PublicPort");
    if (public_port == nullptr || !public_port->IsUint()) continue;
    if (stringMember(port, "Type") != "tcp") continue;

    unsigned value = public_port->GetUint();
    if (value > 0 && value <= 65535) return static_cast<std::uint16_t>(value);
  }
  return 0;
}

std::string stripSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

Container parseListEntry(const rapidjson::Value& entry, const std::string& operation) {
  Container container;
  container.id = requireId(entry, operation);

  const rapidjson::Value* names = findMember(entry, "Names");
  if (names != nullptr && names->IsArray() && !names->Empty() && (*names)[0].IsString()) {
    container.name = stripSlash((*names)[0].GetString());
  }

  container.state = stringMember(entry, "State");
  container.labels = parseLabels(findMember(entry, "Labels"));
  container.host_port = firstPublicPort(findMember(entry, "Ports"));

  const rapidjson::Value* created = findMember(entry, "Created");
  if (created != nullptr && created->IsInt64()) container.created = created->GetInt64();

  return container;
}

// Parses a fixed-width run of decimal digits.
bool parseDigits(std::string_view text, std::size_t position, std::size_t count, int& value) {
  if (position + count > text.size()) return false;

  const char* begin = text.data() + position;
  auto [end, error] = std::from_chars(begin, begin + count, value);
  return error == std::errc() && end == begin + count && *begin != '-' && *begin != '+';
}

}  // namespace

std::string encodeCreateBody(const ContainerSpec& spec) {
  if (spec.host_port != 0 && spec.container_port == 0) {
    throw std::invalid_argument("container spec has host port " + std::to_string(spec.host_port) +
                                " but no container port to publish it to");
  }

  std::string exposed_port = std::to_string(spec.container_port) + "/tcp";
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();

  writer.Key("Image");
  writeString(writer, spec.image);

  writer.Key("Labels");
  writer.StartObject();
  for (const auto& [key, value] : spec.labels) {
    writeString(writer, key);
    writeString(writer, value);
  }
  writer.EndObject();

  writer.Key("Env");
  writer.StartArray();
  for (const auto& variable : spec.env) writeString(writer, variable);
  writer.EndArray();

  if (spec.container_port != 0) {
    writer.Key("ExposedPorts");
    writer.StartObject();
    writeString(writer, exposed_port);
    writer.StartObject();
    writer.EndObject();
    writer.EndObject();
  }

  writer.Key("HostConfig");
  writer.StartObject();

  if (spec.container_port != 0) {
    // HostPort is a string in the Engine API. "0" lets the engine pick a port.
    writer.Key("PortBindings");
    writer.StartObject();
    writeString(writer, exposed_port);
    writer.StartArray();
    writer.StartObject();
    writer.Key("HostIp");
    writeString(writer, spec.host_ip);
    writer.Key("HostPort");
    writeString(writer, std::to_string(spec.host_port));
    writer.EndObject();
    writer.EndArray();
    writer.EndObject();
  }

  writer.Key("Memory");
  writer.Int64(spec.memory_bytes);
  writer.Key("MemorySwap");
  writer.Int64(spec.memory_bytes);
  writer.Key("NanoCpus");
  writer.Int64(spec.nano_cpus);
  writer.Key("PidsLimit");
  writer.Int64(spec.pids_limit);

  writer.Key("RestartPolicy");
  writer.StartObject();
  writer.Key("Name");
  writer.String("no");
  writer.EndObject();

  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string encodeLabelFilter(const std::map<std::string, std::string>& labels) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();

  writer.Key("label");
  writer.StartArray();
  for (const auto& [key, value] : labels) {
    writeString(writer, value.empty() ? key : key + "=" + value);
  }
  writer.EndArray();

  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

CreateResponse parseCreateResponse(std::string_view body, const std::string& operation) {
  rapidjson::Document document;
  parseDocument(document, body, operation);

  CreateResponse response;
  response.id = requireId(document, operation);

  const rapidjson::Value* warnings = findMember(document, "Warnings");
  if (warnings != nullptr && warnings->IsArray()) {
    for (const auto& warning : warnings->GetArray()) {
      if (warning.IsString()) response.warnings.emplace_back(warning.GetString());
    }
  }
  return response;
}

Container parseInspectResponse(std::string_view body, const std::string& operation) {
  rapidjson::Document document;
  parseDocument(document, body, operation);

  Container container;
  container.id = requireId(document, operation);
  container.name = stripSlash(stringMember(document, "Name"));

  const rapidjson::Value* state = findMember(document, "State");
  if (state != nullptr) container.state = stringMember(*state, "Status");

  const rapidjson::Value* config = findMember(document, "Config");
  if (config != nullptr) container.labels = parseLabels(findMember(*config, "Labels"));

  // NetworkSettings.Ports contains the ports bound now, so it is empty unless
  // the container runs. HostConfig.PortBindings contains the requested ones.
  const rapidjson::Value* network = findMember(document, "NetworkSettings");
  if (network != nullptr) container.host_port = firstHostPort(findMember(*network, "Ports"));

  const rapidjson::Value* host_config = findMember(document, "HostConfig");
  if (container.host_port == 0 && host_config != nullptr) {
    container.host_port = firstHostPort(findMember(*host_config, "PortBindings"));
  }

  std::string created = stringMember(document, "Created");
  if (!created.empty()) {
    std::optional<std::int64_t> seconds = parseTimestamp(created);
    if (!seconds) {
      throw Error(Error::Kind::Protocol, operation, 0,
                  "invalid \"Created\" time \"" + created + "\" for container " + container.id);
    }
    container.created = *seconds;
  }

  return container;
}

std::vector<Container> parseListResponse(std::string_view body, const std::string& operation) {
  rapidjson::Document document;
  parseDocument(document, body, operation);

  if (!document.IsArray()) {
    throw Error(Error::Kind::Protocol, operation, 0, "expected a JSON array of containers");
  }

  std::vector<Container> containers;
  containers.reserve(document.Size());
  for (const auto& entry : document.GetArray()) {
    containers.push_back(parseListEntry(entry, operation));
  }
  return containers;
}

std::string parseErrorMessage(std::string_view body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());

  if (!document.HasParseError()) {
    std::string message = stringMember(document, "message");
    if (!message.empty()) return message;
  }

  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  std::size_t last = body.find_last_not_of(" \t\r\n");
  return std::string(body.substr(first, last - first + 1));
}

std::optional<std::int64_t> parseTimestamp(std::string_view text) {
  // The fixed part: YYYY-MM-DDTHH:MM:SS
  std::tm time = {};
  int year = 0;
  int month = 0;
  bool fixed_part_valid =
      parseDigits(text, 0, 4, year) && text.size() > 4 && text[4] == '-' &&
      parseDigits(text, 5, 2, month) && text.size() > 7 && text[7] == '-' &&
      parseDigits(text, 8, 2, time.tm_mday) && text.size() > 10 &&
      (text[10] == 'T' || text[10] == 't') && parseDigits(text, 11, 2, time.tm_hour) &&
      text.size() > 13 && text[13] == ':' && parseDigits(text, 14, 2, time.tm_min) &&
      text.size() > 16 && text[16] == ':' && parseDigits(text, 17, 2, time.tm_sec);
  if (!fixed_part_valid) return std::nullopt;

  if (month < 1 || month > 12 || time.tm_mday < 1 || time.tm_mday > 31 || time.tm_hour > 23 ||
      time.tm_min > 59 || time.tm_sec > 60) {
    return std::nullopt;
  }

  // An optional fraction of a second, which is dropped.
  std::size_t position = 19;
  if (position < text.size() && text[position] == '.') {
    position++;
    std::size_t digits_start = position;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') position++;
    if (position == digits_start) return std::nullopt;
  }

  // The zone: Z, or +HH:MM / -HH:MM east of UTC.
  if (position >= text.size()) return std::nullopt;
  std::int64_t offset_seconds = 0;
  char zone = text[position];

  if (zone == 'Z' || zone == 'z') {
    if (position + 1 != text.size()) return std::nullopt;
  } else if (zone == '+' || zone == '-') {
    int hours = 0;
    int minutes = 0;
    bool offset_valid = parseDigits(text, position + 1, 2, hours) && position + 3 < text.size() &&
                        text[position + 3] == ':' && parseDigits(text, position + 4, 2, minutes) &&
                        position + 6 == text.size() && hours <= 23 && minutes <= 59;
    if (!offset_valid) return std::nullopt;

    offset_seconds = (hours * 3600 + minutes * 60) * (zone == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }

  time.tm_year = year - 1900;
  time.tm_mon = month - 1;
  std::int64_t seconds = timegm(&time);
  return seconds - offset_seconds;
}

}  // namespace berth::docker
