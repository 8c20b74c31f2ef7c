#include "redis_url.h"

#include <gtest/gtest.h>

namespace flx::redis {
namespace {

TEST(RedisUrlTest, TheFormsClientsWriteAreRead) {
  std::string why;
  auto plain = ParseRedisUrl("redis://cache.local", &why);
  ASSERT_TRUE(plain) << why;
  EXPECT_EQ(plain->host, "cache.local");
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->db, 0);
  EXPECT_FALSE(plain->password);

  auto full = ParseRedisUrl("redis://queue:s3cr@t@10.0.0.5:6380/2", &why);
  ASSERT_TRUE(full) << why;
  EXPECT_EQ(full->user, "queue");
  EXPECT_EQ(full->password, "s3cr@t") << "the last '@' ends the credentials";
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->db, 2);
  EXPECT_EQ(full->Display(), "redis://10.0.0.5:6380/2") << "no password in what is shown";

  auto password_only = ParseRedisUrl("redis://:pw@[::1]:7000/", &why);
  ASSERT_TRUE(password_only) << why;
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "pw");
  EXPECT_EQ(password_only->host, "::1");
  EXPECT_EQ(password_only->Display(), "redis://[::1]:7000/0");
}

TEST(RedisUrlTest, MistakesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://host", "expected redis://"},
      {"redis://", "names no host"},
      {"redis://host:0", "port '0' is not in 1..65535"},
      {"redis://host:99999", "port '99999'"},
      {"redis://host:", "port ''"},
      {"redis://host/x", "database 'x' is not a number"},
      {"redis://pw@host", "credentials must be"},
      {"redis://[::1", "'[' without ']'"},
  };
  for (const auto& [text, expected] : cases) {
    std::string why;
    EXPECT_FALSE(ParseRedisUrl(text, &why)) << text;
    EXPECT_NE(why.find(expected), std::string::npos) << text << ": " << why;
  }
}

}  // namespace
}  // namespace flx::redis
