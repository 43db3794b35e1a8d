#include "config/config.hpp"

#include <gtest/gtest.h>

namespace berth::config {
namespace {

TEST(ConfigParse, EmptyTextGivesDefaults) {
  const Config config = parse("", "test.conf");
  EXPECT_EQ(config.port_min, 8000);
  EXPECT_EQ(config.port_max, 9000);
  EXPECT_EQ(config.bind_address, "127.0.0.1");
  EXPECT_EQ(config.threads, 8);
  EXPECT_EQ(config.ready_timeout, 30);
  EXPECT_EQ(config.docker_socket, "/var/run/docker.sock");
}

TEST(ConfigParse, ReadsKeysCommentsAndSpaces) {
  const Config config = parse(
      "# a comment\n"
      "port_min = 9100   # trailing comment\n"
      "port_max=9200\n"
      "\n"
      "  socket_mode = 0600\n"
      "cpus = 0.5\n"
      "cookie_secure = true\n"
      "segment = berth-demo\n",
      "test.conf");
  EXPECT_EQ(config.port_min, 9100);
  EXPECT_EQ(config.port_max, 9200);
  EXPECT_EQ(config.socket_mode, 0600);
  EXPECT_DOUBLE_EQ(config.cpus, 0.5);
  EXPECT_TRUE(config.cookie_secure);
  EXPECT_EQ(config.segment, "berth-demo");
}

TEST(ConfigParse, RejectsBadLinesWithLocation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no_such_key = 1\n", "unknown key \"no_such_key\""},
      {"port_min 8000\n", "expected `key = value`"},
      {"port_min = 0\n", "invalid value \"0\" for port_min"},
      {"port_min = 70000\n", "invalid value"},
      {"threads = many\n", "invalid value \"many\" for threads"},
      {"listen = relative.sock\n", "absolute path"},
      {"segment = a/b\n", "invalid value"},
      {"cookie_secure = maybe\n", "expected true or false"},
      {"port_min = 9000\nport_max = 8000\n", "port_min 9000 is above port_max 8000"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      parse(text, "test.conf");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos)
          << "text: " << text << " message: " << error.what();
      EXPECT_NE(std::string(error.what()).find("test.conf"), std::string::npos) << error.what();
    }
  }
}

TEST(ConfigLoad, MissingFileNamesThePath) {
  try {
    load("/nonexistent/berth.conf");
    ADD_FAILURE() << "loaded a missing file";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/berth.conf"), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::config
