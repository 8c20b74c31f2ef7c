// The copies of a model a flux stage keeps for recovery overrides (variant_cache.h).
#include "variant_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

using Cache = VariantCache<std::string, int>;

std::vector<std::string> Keys(const Cache& cache) {
  std::vector<std::string> keys;
  for (const Cache::Entry& entry : cache.entries()) keys.push_back(entry.key);
  return keys;
}

void Add(Cache& cache, const std::string& key, int value, int64_t bytes, bool exclusive = false) {
  cache.make_room(exclusive);
  cache.insert(key, std::make_shared<const int>(value), bytes);
}

TEST(VariantCacheTest, FindReturnsWhatWasInsertedAndMissesOthers) {
  Cache cache(2);
  Add(cache, "float32/none", 1, 100);
  ASSERT_NE(cache.find("float32/none"), nullptr);
  EXPECT_EQ(*cache.find("float32/none"), 1);
  EXPECT_EQ(cache.find("bfloat16/none"), nullptr);
  EXPECT_EQ(cache.total_bytes(), 100);
}

TEST(VariantCacheTest, LeastRecentlyUsedCopyGoesFirst) {
  Cache cache(2);
  Add(cache, "a", 1, 10);
  Add(cache, "b", 2, 20);
  ASSERT_NE(cache.find("a"), nullptr);  // now b is the oldest
  EXPECT_EQ(cache.make_room(false), std::vector<std::string>{"b"});
  cache.insert("c", std::make_shared<const int>(3), 30);
  EXPECT_EQ(Keys(cache), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(cache.total_bytes(), 40);
}

TEST(VariantCacheTest, PeekDoesNotChangeTheOrder) {
  Cache cache(2);
  Add(cache, "a", 1, 10);
  Add(cache, "b", 2, 20);
  ASSERT_NE(cache.peek("a"), nullptr);
  EXPECT_EQ(cache.make_room(false), std::vector<std::string>{"a"});
}

TEST(VariantCacheTest, ExclusiveRoomDropsEveryOtherCopy) {
  Cache cache(3);
  Add(cache, "a", 1, 10);
  Add(cache, "b", 2, 20);
  EXPECT_EQ(cache.make_room(true), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(cache.entries().empty());
  EXPECT_EQ(cache.total_bytes(), 0);
}

TEST(VariantCacheTest, MakeRoomWithSpaceLeftDropsNothing) {
  Cache cache(3);
  Add(cache, "a", 1, 10);
  EXPECT_TRUE(cache.make_room(false).empty());
  EXPECT_EQ(Keys(cache), std::vector<std::string>{"a"});
}

TEST(VariantCacheTest, AnEvictedCopyStaysAliveWhileAUserHoldsIt) {
  Cache cache(1);
  Add(cache, "a", 7, 10);
  std::shared_ptr<const int> in_use = cache.find("a");
  Add(cache, "b", 8, 10);
  EXPECT_EQ(cache.find("a"), nullptr);
  ASSERT_NE(in_use, nullptr);
  EXPECT_EQ(*in_use, 7);
}

TEST(VariantCacheTest, InsertingAnExistingKeyReplacesIt) {
  Cache cache(2);
  Add(cache, "a", 1, 10);
  cache.insert("a", std::make_shared<const int>(2), 15);
  EXPECT_EQ(Keys(cache), std::vector<std::string>{"a"});
  EXPECT_EQ(*cache.find("a"), 2);
  EXPECT_EQ(cache.total_bytes(), 15);
}

TEST(VariantCacheTest, ZeroCapacityIsRefused) { EXPECT_THROW(Cache(0), std::invalid_argument); }

}  // namespace
}  // namespace flx::flux
