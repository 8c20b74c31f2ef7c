#include "rolling_request_stats.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace flx::metrics {
namespace {

RequestSample Success(double total_s, double queue_s, double step_s, uint32_t steps) {
  RequestSample s;
  s.total_s = total_s;
  s.queue_s = queue_s;
  s.step_s = step_s;
  s.steps = steps;
  return s;
}

RequestSample Failure(double total_s) {
  RequestSample s;
  s.failed = true;
  s.total_s = total_s;
  return s;
}

TEST(RollingRequestStatsTest, EmptyWindowHasNoAverages) {
  RollingRequestStats stats(5);
  RollingSummary s = stats.Summarize();
  EXPECT_EQ(s.window, 5u);
  EXPECT_EQ(s.requests, 0u);
  EXPECT_FALSE(s.avg_total_s);
  EXPECT_FALSE(s.error_rate);
  EXPECT_EQ(RollingSummaryJson(s),
            "{\"window\":5,\"requests\":0,\"avg_total_s\":null,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":null}");
}

TEST(RollingRequestStatsTest, AveragesSuccessesAndCountsErrorsOverAll) {
  RollingRequestStats stats(10);
  RequestSample a = Success(2, 0.5, 1.0, 4);  // 0.25 s per step
  a.denoise_s = 1.0;
  a.vae_decode_s = 0.25;
  RequestSample b = Success(4, 1.5, 3.0, 2);  // 1.5 s per step
  b.denoise_s = 3.0;
  stats.Add(a);
  stats.Add(b);
  stats.Add(Failure(0.001));
  RollingSummary s = stats.Summarize();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_DOUBLE_EQ(*s.avg_total_s, 3);
  EXPECT_DOUBLE_EQ(*s.avg_queue_s, 1);
  // Weighted by steps: (1.0 + 3.0) / (4 + 2).
  EXPECT_DOUBLE_EQ(*s.avg_step_s, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(*s.avg_denoise_s, 2);
  EXPECT_DOUBLE_EQ(*s.avg_vae_decode_s, 0.25);  // only `a` reported it
  EXPECT_DOUBLE_EQ(*s.error_rate, 1.0 / 3.0);
}

TEST(RollingRequestStatsTest, OnlyTheLastWindowCounts) {
  RollingRequestStats stats(2);
  stats.Add(Failure(100));
  stats.Add(Success(1, 0, 0, 0));
  stats.Add(Success(3, 0, 0, 0));
  RollingSummary s = stats.Summarize();
  EXPECT_EQ(s.requests, 2u);
  EXPECT_DOUBLE_EQ(*s.avg_total_s, 2);
  EXPECT_DOUBLE_EQ(*s.error_rate, 0);
  EXPECT_FALSE(s.avg_step_s) << "no request reported a step";
}

TEST(RollingRequestStatsTest, AllFailuresGiveErrorRateOneAndNoTimings) {
  RollingRequestStats stats(3);
  stats.Add(Failure(1));
  stats.Add(Failure(2));
  RollingSummary s = stats.Summarize();
  EXPECT_DOUBLE_EQ(*s.error_rate, 1);
  EXPECT_FALSE(s.avg_total_s);
  EXPECT_EQ(RollingSummaryJson(s),
            "{\"window\":3,\"requests\":2,\"avg_total_s\":null,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":1}");
}

TEST(RollingRequestStatsTest, JsonWritesNumbersShortest) {
  RollingRequestStats stats(1);
  stats.Add(Success(0.5, 0.25, 0.125, 1));
  EXPECT_EQ(RollingSummaryJson(stats.Summarize()),
            "{\"window\":1,\"requests\":1,\"avg_total_s\":0.5,\"avg_queue_s\":0.25,"
            "\"avg_step_s\":0.125,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":0}");
}

TEST(RollingRequestStatsTest, ZeroWindowIsRejected) {
  EXPECT_THROW(RollingRequestStats(0), std::invalid_argument);
}

}  // namespace
}  // namespace flx::metrics
