// Statistics against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "core/stats.h"

namespace dlbench {
namespace {

TEST(Stats, EmptyInputGivesZeroCount) {
  Summary s = summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.mean, 0.0);
}

TEST(Stats, SingleSample) {
  Summary s = summarize({4.0});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.median, 4.0);
  EXPECT_EQ(s.p99, 4.0);
  EXPECT_EQ(s.stddev, 0.0);
  EXPECT_EQ(s.cv, 0.0);
}

TEST(Stats, HandComputedFiveSamples) {
  // Unsorted on purpose. Sorted: 1 2 3 4 10.
  Summary s = summarize({10, 2, 4, 1, 3});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 4.0);    // 20 / 5
  EXPECT_DOUBLE_EQ(s.median, 3.0);  // rank 2
  EXPECT_DOUBLE_EQ(s.p50, 3.0);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 10.0);
  EXPECT_DOUBLE_EQ(s.p90, 7.6);   // rank 3.6: 4 + 0.6 * (10 - 4)
  EXPECT_DOUBLE_EQ(s.p99, 9.76);  // rank 3.96: 4 + 0.96 * 6
  // Squared deviations: 9 + 4 + 1 + 0 + 36 = 50; / (n-1) = 12.5.
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(12.5));
  EXPECT_DOUBLE_EQ(s.cv, std::sqrt(12.5) / 4.0);
}

TEST(Stats, EvenCountMedianInterpolates) {
  Summary s = summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.median, 2.5);  // rank 1.5
  EXPECT_DOUBLE_EQ(s.p90, 3.7);     // rank 2.7: 3 + 0.7
}

TEST(Stats, PercentileOfSortedClampsRange) {
  std::vector<double> sorted = {1, 2, 3};
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 100), 3.0);
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 150), 3.0);
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 25), 1.5);
}

TEST(Stats, ConstantSamplesHaveZeroCv) {
  Summary s = summarize(std::vector<double>(100, 0.25));
  EXPECT_DOUBLE_EQ(s.cv, 0.0);
  EXPECT_DOUBLE_EQ(s.p999, 0.25);
}

}  // namespace
}  // namespace dlbench
