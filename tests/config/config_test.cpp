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

TEST(ConfigParse, RejectsNonFiniteNumbers) {
  for (const char* value : {"nan", "NaN", "inf", "-inf", "infinity"}) {
    EXPECT_THROW(parse(std::string("cpus = ") + value + "\n", "test.conf"), ConfigError) << value;
  }
}

TEST(ConfigParse, SegmentCharacters) {
  for (const std::string& name : {std::string("berth"), std::string("berth-test.2"),
                                  std::string("A9"), std::string("a.."), std::string(64, 's')}) {
    EXPECT_EQ(parse("segment = " + name + "\n", "test.conf").segment, name) << name;
  }

  for (const std::string& name :
       {std::string("berth_test"), std::string("."), std::string(".."), std::string(".hidden"),
        std::string("a/b"), std::string("a:b"), std::string("caf\xc3\xa9"), std::string(65, 's')}) {
    try {
      parse("segment = " + name + "\n", "test.conf");
      ADD_FAILURE() << "accepted segment " << name;
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what())
                    .find("expected 1 to 64 characters of A-Z, a-z, 0-9, '.' and '-', not "
                          "starting with '.'"),
                std::string::npos)
          << error.what();
    }
  }
}

TEST(ConfigParse, BindAddressIsIpLiteral) {
  for (const char* address : {"127.0.0.1", "0.0.0.0", "::", "::1", "fd00::2"}) {
    EXPECT_EQ(parse(std::string("bind_address = ") + address + "\n", "test.conf").bind_address,
              address);
  }

  for (const char* address : {"localhost", "example.com", "127.0.0.1:80", "256.0.0.1", "[::1]"}) {
    try {
      parse(std::string("bind_address = ") + address + "\n", "test.conf");
      ADD_FAILURE() << "accepted bind_address " << address;
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("expected an IP address such as 127.0.0.1"),
                std::string::npos)
          << error.what();
    }
  }
}

TEST(ConfigParse, DuplicateKeyNamesBothLines) {
  try {
    parse("port_min = 9100\n# comment\nport_max = 9200\nport_min = 9150\n", "test.conf");
    ADD_FAILURE() << "accepted a repeated key";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("test.conf:4:"), std::string::npos) << message;
    EXPECT_NE(message.find("duplicate key \"port_min\""), std::string::npos) << message;
    EXPECT_NE(message.find("line 1"), std::string::npos) << message;
  }
}

TEST(ConfigParse, SocketPathFitsSunPath) {
  // sockaddr_un::sun_path is 108 bytes on Linux, one of them the NUL.
  const std::string longest = "/" + std::string(106, 's');
  EXPECT_EQ(parse("listen = " + longest + "\n", "test.conf").listen, longest);

  for (const char* key : {"listen", "docker_socket"}) {
    try {
      parse(std::string(key) + " = " + longest + "s\n", "test.conf");
      ADD_FAILURE() << "accepted a 108-byte " << key;
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("at most 107 bytes"), std::string::npos)
          << error.what();
      EXPECT_NE(std::string(error.what()).find("this one is 108"), std::string::npos)
          << error.what();
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
