#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "docker/client.hpp"

namespace berth::docker {

// Encodes the body of POST /containers/create: image, labels, env, one
// published TCP port when spec.container_port is set, MemorySwap equal to
// Memory so that no swap is added, NanoCpus, PidsLimit and a restart policy
// of "no". It sets no volumes and no bind mounts. Throws std::invalid_argument
// when spec.host_port is set without spec.container_port.
std::string encodeCreateBody(const ContainerSpec& spec);

// Encodes the value of the filters query parameter of GET /containers/json:
// {"label":["key=value","key",...]}, where an empty value matches on the key
// alone. The result still needs percent-encoding.
std::string encodeLabelFilter(const std::map<std::string, std::string>& labels);

struct CreateResponse {
  std::string id;
  std::vector<std::string> warnings;
};

// Parsers of the engine's 2xx bodies. Each throws Error of Kind::Protocol,
// named by operation, when the body is not JSON, lacks a container Id or has
// a field of the wrong form.
CreateResponse parseCreateResponse(std::string_view body, const std::string& operation);
Container parseInspectResponse(std::string_view body, const std::string& operation);
std::vector<Container> parseListResponse(std::string_view body, const std::string& operation);

// Returns the "message" field of an engine error body, or the body itself
// with surrounding whitespace removed when it has no such field.
std::string parseErrorMessage(std::string_view body);

// Converts an RFC 3339 time such as "2024-05-01T12:00:00.123456789Z" or
// "2024-05-01T14:00:00+02:00" to unix seconds, dropping the fraction.
// Returns nothing when the text is not in that form.
std::optional<std::int64_t> parseTimestamp(std::string_view text);

}  // namespace berth::docker
