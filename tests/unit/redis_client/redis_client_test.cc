// RedisClient against a real redis-server: replies of every type, binary-safe arguments,
// authentication, and surviving a restart (the append-only file keeps the data).
#include "redis_client.h"

#include <gtest/gtest.h>

#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace flx::redis {
namespace {

using test::RedisServer;
using test::TempDir;

RedisUrl UrlOf(const RedisServer& server, const std::string& password = "") {
  std::string why;
  std::string text = server.url();
  if (!password.empty())
    text = "redis://:" + password + "@127.0.0.1:" + std::to_string(server.port());
  return *ParseRedisUrl(text + "/1", &why);
}

TEST(RedisClientTest, RepliesOfEveryTypeAndBinarySafeArguments) {
  TempDir dir;
  std::string why;
  auto server = RedisServer::Start(dir.path(), &why);
  ASSERT_NE(server, nullptr) << why;
  RedisClient client(UrlOf(*server), 2.0);
  const std::string binary("a\0b\r\nc", 6);
  EXPECT_EQ(client.Command({"SET", "k", binary}).text, "OK");
  EXPECT_EQ(client.Command({"SET", "k", binary}).type, RedisReply::Type::kStatus);
  const RedisReply got = client.Command({"GET", "k"});
  EXPECT_EQ(got.type, RedisReply::Type::kString);
  EXPECT_EQ(got.text, binary);
  EXPECT_TRUE(client.Command({"GET", "missing"}).IsNil());
  EXPECT_EQ(client.Command({"INCRBY", "n", "41"}).integer, 41);
  const RedisReply list = client.Command({"MGET", "k", "missing"});
  ASSERT_EQ(list.type, RedisReply::Type::kArray);
  ASSERT_EQ(list.elements.size(), 2u);
  EXPECT_TRUE(list.elements[1].IsNil());
  const RedisReply wrong = client.Command({"LPUSH", "k", "x"});
  EXPECT_TRUE(wrong.IsError());
  EXPECT_NE(wrong.text.find("WRONGTYPE"), std::string::npos) << wrong.text;
  // /1 selected database 1: database 0 does not see the key.
  RedisClient db0(*ParseRedisUrl(server->url(), &why), 2.0);
  EXPECT_TRUE(db0.Command({"GET", "k"}).IsNil());
}

TEST(RedisClientTest, ARestartCostsNoDataAndTheClientReconnectsByItself) {
  TempDir dir;
  std::string why;
  auto server = RedisServer::Start(dir.path(), &why);
  ASSERT_NE(server, nullptr) << why;
  RedisClient client(UrlOf(*server), 2.0);
  ASSERT_EQ(client.Command({"XADD", "jobs", "*", "id", "j1"}).type, RedisReply::Type::kString);
  server->Stop();
  try {
    client.Command({"XLEN", "jobs"});
    ADD_FAILURE() << "a stopped Redis answered";
  } catch (const RedisUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find(server->url()), std::string::npos) << e.what();
  }
  ASSERT_TRUE(server->Restart(&why)) << why;
  EXPECT_EQ(client.Command({"XLEN", "jobs"}).integer, 1) << "kept by the append-only file";
}

TEST(RedisClientTest, APasswordIsSentAndAWrongOneIsRefusedClearly) {
  TempDir dir;
  std::string why;
  auto server = RedisServer::Start(dir.path(), &why, "letmein");
  ASSERT_NE(server, nullptr) << why;
  RedisClient good(UrlOf(*server, "letmein"), 2.0);
  EXPECT_EQ(good.Command({"PING"}).text, "PONG");
  RedisClient bad(UrlOf(*server, "nope"), 2.0);
  try {
    bad.Command({"PING"});
    ADD_FAILURE() << "a wrong password was accepted";
  } catch (const RedisUnavailable& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("refused AUTH"), std::string::npos) << what;
    EXPECT_EQ(what.find("nope"), std::string::npos) << "the password is never shown: " << what;
  }
}

}  // namespace
}  // namespace flx::redis
