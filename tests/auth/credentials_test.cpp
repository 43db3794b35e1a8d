#include "auth/credentials.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>

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

// Written by `htpasswd -nbB -C 10 carol carol-pass`.
constexpr const char* kCarolCost10Line =
    "carol:$2y$10$RUfM7f.kUd5r3oGdE2jW3.Uhd7mr0i3mF0M/BG30/t/dkcQS8fIdW";

// The shortest of three runs of `call`, in seconds.
double fastestRun(const std::function<void()>& call) {
  double fastest = 1e9;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    call();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    fastest = std::min(fastest, elapsed.count());
  }
  return fastest;
}

TEST(CredentialsVerify, UnknownUserTakesAsLongAsKnown) {
  TempFile htpasswd(std::string(kAliceLine) + "\n" + kCarolCost10Line + "\nbob:$apr1$x$y\n");
  const double known = fastestRun([&] { verifyPassword(htpasswd.path(), "carol", "wrong"); });
  const double unknown = fastestRun([&] { verifyPassword(htpasswd.path(), "mallory", "wrong"); });
  const double not_bcrypt = fastestRun([&] { verifyPassword(htpasswd.path(), "bob", "wrong"); });

  // Cost 10 takes 32 times as long as cost 5; half of the known user's time
  // leaves room for a loaded machine and still fails at cost 5.
  EXPECT_GT(unknown, known / 2) << "known " << known << " s, unknown " << unknown << " s";
  EXPECT_GT(not_bcrypt, known / 2) << "known " << known << " s, non-bcrypt " << not_bcrypt << " s";
}

TEST(CredentialsVerify, WarnsAboutNonBcryptEntry) {
  TempFile htpasswd(std::string(kAliceLine) + "\ndave:$apr1$x$y\n");
  ::testing::internal::CaptureStderr();
  const bool accepted = verifyPassword(htpasswd.path(), "dave", "dave-secret");
  const std::string output = ::testing::internal::GetCapturedStderr();

  EXPECT_FALSE(accepted);
  EXPECT_NE(output.find("user=dave"), std::string::npos) << output;
  EXPECT_NE(output.find("htpasswd -B"), std::string::npos) << output;
  EXPECT_EQ(output.find("dave-secret"), std::string::npos) << output;
  EXPECT_EQ(output.find("$apr1$"), std::string::npos) << output;
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
