#include "model/noise_generator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "model/latents.h"

namespace flx::flux {
namespace {

TEST(NoiseGenerator, ReseedingTheCachedGeneratorDrawsWhatAFreshOneDraws) {
  NoiseGenerator generator;
  for (const uint64_t seed : {42u, 7u, 42u, 0u, 123456789u}) {
    for (const c10::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      EXPECT_TRUE(generator.initial_noise(16, 8, 6, seed, dtype)
                      .equal(initial_noise(16, 8, 6, seed, dtype)))
          << "seed " << seed << ", " << c10::toString(dtype);
    }
  }
}

TEST(NoiseGenerator, ConcurrentRequestsNeverInterleave) {
  NoiseGenerator& generator = NoiseGenerator::for_device(c10::Device(c10::kCPU));
  constexpr int kThreads = 8, kDraws = 20;
  std::vector<at::Tensor> references;
  for (int t = 0; t < kThreads; ++t) references.push_back(initial_noise(16, 16, 16, t, at::kFloat));
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) {
        if (!generator.initial_noise(16, 16, 16, t, at::kFloat).equal(references[t])) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(NoiseGenerator, OnePerDevice) {
  NoiseGenerator& cpu = NoiseGenerator::for_device(c10::Device(c10::kCPU));
  EXPECT_EQ(&cpu, &NoiseGenerator::for_device(c10::Device(c10::kCPU)));
  EXPECT_NE(&cpu, &NoiseGenerator::for_device(c10::Device(c10::kCUDA, 0)));
  EXPECT_NE(&NoiseGenerator::for_device(c10::Device(c10::kCUDA, 0)),
            &NoiseGenerator::for_device(c10::Device(c10::kCUDA, 1)));
}

}  // namespace
}  // namespace flx::flux
