#include "auth/credentials.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "auth/token.hpp"

namespace berth::auth {
namespace {

// A temporary file removed on scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/berth-auth-test-XXXXXX";
    const int fd = ::mkstemp(name);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Written by `htpasswd -nbB -C 5 alice alice-pass`.
constexpr const char* kAliceLine =
    "alice:$2y$05$yzUK8amV4rAGDKFfPoq6uO3If7Io8/50Nq4rXkgSPi/NzYWSlYOVm";

TEST(CredentialsVerify, AcceptsRightPasswordOnly) {
  TempFile htpasswd(std::string("bob:$apr1$x$y\n") + kAliceLine + "\n");
  EXPECT_TRUE(verifyPassword(htpasswd.path(), "alice", "alice-pass"));
  EXPECT_FALSE(verifyPassword(htpasswd.path(), "alice", "alice-pas"));
  EXPECT_FALSE(verifyPassword(htpasswd.path(), "alice", "alice-pass "));
  EXPECT_FALSE(verifyPassword(htpasswd.path(), "mallory", "alice-pass"));
  EXPECT_FALSE(verifyPassword(htpasswd.path(), "alic", "alice-pass"));
  // Only bcrypt hashes count; bob's MD5 line never matches.
  EXPECT_FALSE(verifyPassword(htpasswd.path(), "bob", "anything"));
}

TEST(CredentialsVerify, MissingFileThrows) {
  EXPECT_THROW(verifyPassword("/nonexistent/htpasswd", "alice", "x"), std::runtime_error);
}

TEST(CredentialsAdminToken, ComparesFirstLine) {
  TempFile token("s3cret-token\n");
  EXPECT_TRUE(verifyAdminToken(token.path(), "s3cret-token"));
  EXPECT_FALSE(verifyAdminToken(token.path(), "s3cret-toke"));
  EXPECT_FALSE(verifyAdminToken(token.path(), ""));
  EXPECT_FALSE(verifyAdminToken("/nonexistent/token", "s3cret-token"));

  TempFile empty("");
  EXPECT_FALSE(verifyAdminToken(empty.path(), ""));
}

TEST(CredentialsUserName, AcceptsPlainNames) {
  for (const char* name : {"alice", "bob_2", "a", "user.name", "x-y", "A9"}) {
    EXPECT_FALSE(userNameProblem(name).has_value()) << name;
  }
  EXPECT_FALSE(userNameProblem(std::string(64, 'a')).has_value());
}

TEST(CredentialsUserName, RejectsUnsafeNames) {
  for (const std::string& name :
       {std::string(), std::string("a/b"), std::string(".."), std::string("a..b"),
        std::string("al ice"), std::string("al\x01ice"), std::string(65, 'a'),
        std::string("-alice"), std::string(".alice"), std::string("al\xc3\xa9")}) {
    EXPECT_TRUE(userNameProblem(name).has_value()) << name;
  }
}

TEST(TokenNew, Is256BitsOfHex) {
  const std::string first = newSessionToken();
  const std::string second = newSessionToken();
  EXPECT_EQ(first.size(), 64u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(first, second);
}

TEST(TokenHash, IsSha256) {
  // SHA-256("abc") from FIPS 180-2, appendix B.1.
  const shm::TokenHash hash = hashToken("abc");
  EXPECT_EQ(hash[0], 0xba);
  EXPECT_EQ(hash[1], 0x78);
  EXPECT_EQ(hash[31], 0xad);
}

}  // namespace
}  // namespace berth::auth
