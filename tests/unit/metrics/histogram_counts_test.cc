#include "histogram_counts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace flx::metrics {
namespace {

TEST(HistogramCountsTest, BoundsAreInclusiveAndCountsCumulative) {
  HistogramCounts h({0.1, 1, 10});
  // One value below the first bound, one on each bound, one between, one above the last.
  for (double v : {0.05, 0.1, 0.5, 1.0, 10.0, 11.0}) h.Observe(v);
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.05 + 0.1 + 0.5 + 1.0 + 10.0 + 11.0);
}

TEST(HistogramCountsTest, EmptyHistogramHasZeroBucketsSumAndCount) {
  HistogramCounts h({1, 2});
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0);
}

TEST(HistogramCountsTest, ZeroAndNegativeValuesLandInTheFirstBucket) {
  HistogramCounts h({0.001, 1});
  h.Observe(0);
  h.Observe(-1);
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_DOUBLE_EQ(h.sum(), -1);
}

TEST(HistogramCountsTest, NonFiniteValuesAreDropped) {
  HistogramCounts h({1});
  h.Observe(std::nan(""));
  h.Observe(std::numeric_limits<double>::infinity());
  h.Observe(0.5);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.5);
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{1, 1}));
}

TEST(HistogramCountsTest, RejectsBadBounds) {
  struct Case {
    std::vector<double> bounds;
    const char* mentions;
  };
  const Case cases[] = {
      {{}, "at least one"},
      {{1, 1}, "bound 1 (1) is not greater than the one before it (1)"},
      {{2, 1}, "bound 1 (1) is not greater"},
      {{1, std::numeric_limits<double>::infinity()}, "bound 1 is +Inf"},
      {{std::nan("")}, "bound 0 is NaN"},
  };
  for (const Case& c : cases) {
    try {
      HistogramCounts h(c.bounds);
      ADD_FAILURE() << "accepted bounds that should fail with: " << c.mentions;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace flx::metrics
