#include "model/prompt_cache.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace flx::flux {
namespace {

PromptKey key(int64_t clip, int64_t t5) { return PromptKey{{49406, clip, 49407}, {t5, 1}}; }

// Embeddings whose pooled value tells which computation made them.
class CountingEncoder {
 public:
  PromptEmbeddings operator()() {
    PromptEmbeddings embeddings;
    embeddings.pooled = at::full({1, 2}, static_cast<double>(++calls_));
    return embeddings;
  }
  int calls() const { return calls_; }

 private:
  int calls_ = 0;
};

double tag(const PromptEmbeddings& embeddings) { return embeddings.pooled[0][0].item<double>(); }

TEST(PromptCache, HitsSkipTheEncodersAndLeastRecentlyUsedIsEvicted) {
  PromptCache cache(2);
  CountingEncoder encode;
  auto get = [&](const PromptKey& k) { return tag(cache.get_or_compute(k, std::ref(encode))); };
  EXPECT_EQ(get(key(1, 1)), 1.0);
  EXPECT_EQ(get(key(2, 2)), 2.0);
  EXPECT_EQ(get(key(1, 1)), 1.0) << "a hit returns what the first call computed";
  EXPECT_EQ(encode.calls(), 2);
  EXPECT_EQ(get(key(3, 3)), 3.0) << "evicts key 2, the least recently used";
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(get(key(1, 1)), 1.0);
  EXPECT_EQ(get(key(2, 2)), 4.0) << "key 2 was evicted and is computed again";
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 4u);
}

TEST(PromptCache, KeysDifferInEitherTokenSequence) {
  PromptCache cache(4);
  CountingEncoder encode;
  cache.get_or_compute(key(1, 1), std::ref(encode));
  cache.get_or_compute(key(1, 2), std::ref(encode));
  cache.get_or_compute(key(2, 1), std::ref(encode));
  cache.get_or_compute(PromptKey{{49406, 1, 49407}, {1, 1, 0}}, std::ref(encode));
  EXPECT_EQ(encode.calls(), 4) << "a longer max_sequence_length pads t5 ids differently";
  EXPECT_EQ(cache.misses(), 4u);
}

TEST(PromptCache, CapacityZeroIsOff) {
  PromptCache cache(0);
  CountingEncoder encode;
  cache.get_or_compute(key(1, 1), std::ref(encode));
  cache.get_or_compute(key(1, 1), std::ref(encode));
  EXPECT_EQ(encode.calls(), 2);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.misses(), 0u);
}

TEST(PromptCache, FailedEncodingsAreNotStored) {
  PromptCache cache(2);
  EXPECT_THROW(cache.get_or_compute(key(1, 1),
                                    []() -> PromptEmbeddings {
                                      throw std::invalid_argument("token id out of range");
                                    }),
               std::invalid_argument);
  EXPECT_EQ(cache.size(), 0u);
  CountingEncoder encode;
  cache.get_or_compute(key(1, 1), std::ref(encode));
  EXPECT_EQ(encode.calls(), 1);
}

TEST(PromptCache, ConcurrentCallersCountEveryLookup) {
  PromptCache cache(3);
  std::atomic<int> computations{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 8, kLookups = 200;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLookups; ++i) {
        const int64_t prompt = (t + i) % 5;
        const PromptEmbeddings got = cache.get_or_compute(key(prompt, prompt), [&] {
          ++computations;
          PromptEmbeddings embeddings;
          embeddings.pooled = at::full({1, 2}, static_cast<double>(prompt));
          return embeddings;
        });
        EXPECT_EQ(tag(got), static_cast<double>(prompt));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(cache.hits() + cache.misses(), static_cast<uint64_t>(kThreads * kLookups));
  EXPECT_EQ(cache.misses(), static_cast<uint64_t>(computations.load()));
  EXPECT_LE(cache.size(), 3u);
}

}  // namespace
}  // namespace flx::flux
