#include "retry_after_estimator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace flx::sched {
namespace {

struct EstimateCase {
  std::string name;
  size_t window;
  double min_seconds;
  std::vector<double> service_times;
  size_t jobs_ahead;
  int max_concurrent;
  int64_t expected_seconds;
};

TEST(RetryAfterEstimatorTest, EstimatesFromRecentServiceTimes) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const std::vector<EstimateCase> cases = {
      {"no history uses the minimum", 16, 1, {}, 5, 1, 1},
      {"no history with a fractional minimum rounds up", 16, 2.5, {}, 0, 1, 3},
      {"no history and no minimum", 16, 0, {}, 3, 1, 0},
      {"one job ahead doubles the mean", 16, 1, {2, 4}, 1, 1, 6},
      {"slots divide the wait", 16, 1, {2, 4}, 1, 4, 2},
      {"nothing ahead waits one mean", 16, 1, {10}, 0, 1, 10},
      {"short jobs still wait the minimum", 16, 1, {0.2, 0.2}, 0, 1, 1},
      {"fractions round up", 16, 0, {0.5}, 2, 1, 2},
      {"only the window is averaged", 2, 1, {100, 2, 4}, 0, 1, 3},
      {"nonsense service times are ignored", 16, 1, {-5, kNaN, 4}, 0, 1, 4},
      {"a mean above the minimum wins", 16, 5, {9}, 0, 1, 9},
  };
  for (const EstimateCase& c : cases) {
    RetryAfterEstimator estimator(c.window, c.min_seconds);
    for (double seconds : c.service_times) estimator.Record(seconds);
    EXPECT_EQ(estimator.EstimateSeconds(c.jobs_ahead, c.max_concurrent), c.expected_seconds)
        << "case: " << c.name;
  }
}

TEST(RetryAfterEstimatorTest, AverageSlidesWithTheWindow) {
  RetryAfterEstimator estimator(3, 1);
  EXPECT_EQ(estimator.AverageSeconds(), 0.0);
  for (double seconds : {1.0, 2.0, 3.0}) estimator.Record(seconds);
  EXPECT_DOUBLE_EQ(estimator.AverageSeconds(), 2.0);
  estimator.Record(7.0);
  EXPECT_DOUBLE_EQ(estimator.AverageSeconds(), 4.0) << "the oldest time (1 s) must drop out";
}

}  // namespace
}  // namespace flx::sched
