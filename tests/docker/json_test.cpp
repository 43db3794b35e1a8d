// Tests of the Engine API bodies that docker::Client sends and parses. They
// need no dockerd.

#include "docker/json.hpp"

#include <rapidjson/document.h>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace berth::docker {
namespace {

rapidjson::Document parseJson(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  return document;
}

ContainerSpec fullSpec() {
  ContainerSpec spec;
  spec.name = "berth-alice";
  spec.image = "berth/workspace:1";
  spec.labels = {{"io.berth.managed", "1"}, {"io.berth.user", "alice"}};
  spec.env = {"BERTH_USER=alice"};
  spec.host_ip = "127.0.0.1";
  spec.host_port = 20001;
  spec.container_port = 8080;
  spec.memory_bytes = 512 * 1024 * 1024;
  spec.nano_cpus = 1'000'000'000;
  spec.pids_limit = 256;
  return spec;
}

TEST(ContainerJsonTest, CreateBodyHasEveryField) {
  rapidjson::Document body = parseJson(encodeCreateBody(fullSpec()));
  ASSERT_FALSE(body.HasParseError());

  EXPECT_STREQ(body["Image"].GetString(), "berth/workspace:1");
  EXPECT_STREQ(body["Labels"]["io.berth.user"].GetString(), "alice");
  EXPECT_STREQ(body["Labels"]["io.berth.managed"].GetString(), "1");
  ASSERT_EQ(body["Env"].Size(), 1u);
  EXPECT_STREQ(body["Env"][0].GetString(), "BERTH_USER=alice");
  ASSERT_TRUE(body["ExposedPorts"].HasMember("8080/tcp"));
  EXPECT_TRUE(body["ExposedPorts"]["8080/tcp"].IsObject());

  const rapidjson::Value& host = body["HostConfig"];
  const rapidjson::Value& binding = host["PortBindings"]["8080/tcp"][0];
  EXPECT_STREQ(binding["HostIp"].GetString(), "127.0.0.1");
  ASSERT_TRUE(binding["HostPort"].IsString()) << "the Engine API wants HostPort as a string";
  EXPECT_STREQ(binding["HostPort"].GetString(), "20001");
  EXPECT_EQ(host["Memory"].GetInt64(), 512 * 1024 * 1024);
  EXPECT_EQ(host["MemorySwap"].GetInt64(), 512 * 1024 * 1024);
  EXPECT_EQ(host["NanoCpus"].GetInt64(), 1'000'000'000);
  EXPECT_EQ(host["PidsLimit"].GetInt64(), 256);
  EXPECT_STREQ(host["RestartPolicy"]["Name"].GetString(), "no");
  EXPECT_FALSE(host.HasMember("Binds"));
  EXPECT_FALSE(host.HasMember("Mounts"));
  EXPECT_FALSE(body.HasMember("Volumes"));
}

TEST(ContainerJsonTest, CreateBodyEscapesStrings) {
  ContainerSpec spec = fullSpec();
  spec.env = {"QUOTE=\"a\\b\"\n"};

  rapidjson::Document body = parseJson(encodeCreateBody(spec));

  ASSERT_FALSE(body.HasParseError());
  EXPECT_STREQ(body["Env"][0].GetString(), "QUOTE=\"a\\b\"\n");
}

TEST(ContainerJsonTest, CreateBodyWithoutPortPublishesNothing) {
  ContainerSpec spec = fullSpec();
  spec.host_port = 0;
  spec.container_port = 0;

  rapidjson::Document body = parseJson(encodeCreateBody(spec));

  ASSERT_FALSE(body.HasParseError());
  EXPECT_FALSE(body.HasMember("ExposedPorts"));
  EXPECT_FALSE(body["HostConfig"].HasMember("PortBindings"));
}

TEST(ContainerJsonTest, CreateBodyRejectsHostPortAlone) {
  ContainerSpec spec = fullSpec();
  spec.container_port = 0;

  EXPECT_THROW(encodeCreateBody(spec), std::invalid_argument);
}

TEST(ContainerJsonTest, LabelFilterMatchesKeyAlone) {
  EXPECT_EQ(encodeLabelFilter({{"io.berth.managed", ""}, {"io.berth.user", "alice"}}),
            R"({"label":["io.berth.managed","io.berth.user=alice"]})");
}

TEST(ContainerJsonTest, InspectRunningContainer) {
  const std::string body = R"({
    "Id": "abc123",
    "Created": "2024-05-01T12:00:00.123456789Z",
    "Name": "/berth-alice",
    "State": {"Status": "running", "Running": true},
    "Config": {"Labels": {"io.berth.user": "alice", "io.berth.managed": "1"}},
    "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "20001"}]}},
    "NetworkSettings": {"Ports": {
      "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "20053"}],
      "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "20002"}]}}
  })";

  Container container = parseInspectResponse(body, "inspect container");

  EXPECT_EQ(container.id, "abc123");
  EXPECT_EQ(container.name, "berth-alice");
  EXPECT_EQ(container.state, "running");
  EXPECT_EQ(container.labels.at("io.berth.user"), "alice");
  EXPECT_EQ(container.labels.size(), 2u);
  EXPECT_EQ(container.host_port, 20002) << "the bound port wins over the requested one";
  EXPECT_EQ(container.created, 1714564800);
}

TEST(ContainerJsonTest, InspectCreatedContainerUsesPortBindings) {
  const std::string body = R"({
    "Id": "abc123",
    "Created": "2024-05-01T12:00:00Z",
    "Name": "/berth-alice",
    "State": {"Status": "created"},
    "Config": {"Labels": null},
    "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "20001"}]}},
    "NetworkSettings": {"Ports": {}}
  })";

  Container container = parseInspectResponse(body, "inspect container");

  EXPECT_EQ(container.state, "created");
  EXPECT_TRUE(container.labels.empty());
  EXPECT_EQ(container.host_port, 20001);
}

TEST(ContainerJsonTest, InspectWithoutIdIsProtocolError) {
  try {
    parseInspectResponse(R"({"Name": "/x"})", "inspect container");
    FAIL() << "a body without Id was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol);
    EXPECT_EQ(error.operation(), "inspect container");
  }
}

TEST(ContainerJsonTest, InspectWithBadCreatedIsProtocolError) {
  try {
    parseInspectResponse(R"({"Id": "abc", "Created": "yesterday"})", "inspect container");
    FAIL() << "an invalid Created time was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol);
    EXPECT_NE(error.dockerMessage().find("yesterday"), std::string::npos);
  }
}

TEST(ContainerJsonTest, ListEntries) {
  const std::string body = R"([
    {"Id": "one", "Names": ["/berth-alice"], "State": "running", "Created": 1714564800,
     "Labels": {"io.berth.user": "alice"},
     "Ports": [{"PrivatePort": 9000, "Type": "tcp"},
               {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 20053, "Type": "udp"},
               {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 20001, "Type": "tcp"}]},
    {"Id": "two", "Names": [], "State": "created", "Created": 1714564801,
     "Labels": null, "Ports": []}
  ])";

  std::vector<Container> containers = parseListResponse(body, "list containers");

  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0].id, "one");
  EXPECT_EQ(containers[0].name, "berth-alice");
  EXPECT_EQ(containers[0].state, "running");
  EXPECT_EQ(containers[0].labels.at("io.berth.user"), "alice");
  EXPECT_EQ(containers[0].host_port, 20001);
  EXPECT_EQ(containers[0].created, 1714564800);
  EXPECT_EQ(containers[1].id, "two");
  EXPECT_EQ(containers[1].name, "");
  EXPECT_EQ(containers[1].host_port, 0);
  EXPECT_TRUE(containers[1].labels.empty());
}

TEST(ContainerJsonTest, ListOfObjectIsProtocolError) {
  try {
    parseListResponse(R"({"Id": "one"})", "list containers");
    FAIL() << "an object was accepted as a list";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), Error::Kind::Protocol);
  }
}

TEST(ContainerJsonTest, CreateResponseKeepsWarnings) {
  CreateResponse response =
      parseCreateResponse(R"({"Id": "abc", "Warnings": ["no swap limit"]})", "create container");

  EXPECT_EQ(response.id, "abc");
  ASSERT_EQ(response.warnings.size(), 1u);
  EXPECT_EQ(response.warnings[0], "no swap limit");
}

TEST(ContainerJsonTest, ErrorMessageFromJsonOrRawBody) {
  EXPECT_EQ(parseErrorMessage(R"({"message":"No such container: x"})"), "No such container: x");
  EXPECT_EQ(parseErrorMessage("  page not found\n"), "page not found");
  EXPECT_EQ(parseErrorMessage(R"({"other":"x"})"), R"({"other":"x"})");
  EXPECT_EQ(parseErrorMessage(""), "");
}

TEST(ContainerJsonTest, TimestampForms) {
  EXPECT_EQ(parseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseTimestamp("2024-05-01T12:00:00Z"), 1714564800);
  EXPECT_EQ(parseTimestamp("2024-05-01T12:00:00.999999999Z"), 1714564800);
  EXPECT_EQ(parseTimestamp("2024-05-01T14:00:00+02:00"), 1714564800);
  EXPECT_EQ(parseTimestamp("2024-05-01T10:30:00-01:30"), 1714564800);
  EXPECT_EQ(parseTimestamp("2024-02-29T00:00:00Z"), 1709164800);
}

TEST(ContainerJsonTest, TimestampRejectsInvalidText) {
  EXPECT_FALSE(parseTimestamp(""));
  EXPECT_FALSE(parseTimestamp("2024-05-01"));
  EXPECT_FALSE(parseTimestamp("2024-05-01T12:00:00"));
  EXPECT_FALSE(parseTimestamp("2024-05-01 12:00:00Z"));
  EXPECT_FALSE(parseTimestamp("2024-13-01T12:00:00Z"));
  EXPECT_FALSE(parseTimestamp("2024-05-01T12:00:00.Z"));
  EXPECT_FALSE(parseTimestamp("2024-05-01T12:00:00Zjunk"));
  EXPECT_FALSE(parseTimestamp("2024-05-01T12:00:00+0200"));
  EXPECT_FALSE(parseTimestamp("+024-05-01T12:00:00Z"));
}

}  // namespace
}  // namespace berth::docker
