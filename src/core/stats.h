// Summary statistics over measured samples.
#pragma once

#include <cstddef>
#include <vector>

namespace dlbench {

/// Statistics of a sample set. Percentiles interpolate linearly between order statistics
/// (rank = p/100 * (n-1), numpy's default); stddev is the sample standard deviation (n-1);
/// cv = stddev / mean.
struct Summary {
  size_t count = 0;
  double mean = 0, median = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0;
  double stddev = 0, cv = 0;
};

/// Computes the summary of `samples`. An empty input gives a zero summary with count 0.
Summary summarize(std::vector<double> samples);

/// At most `limit` of `samples`, evenly kept: the first, the last and evenly spaced ones between
/// them, in their order (all of them when there are no more than `limit`).
std::vector<double> evenly_kept(const std::vector<double>& samples, size_t limit);

/// The noise of a sum of parts: each part's noise (CV, any unit) weighted by its share of the
/// total (shares sum to 1). Parts' errors may be correlated, so the weighted sum, not a root sum
/// of squares: an upper bound on the sum's relative spread.
double share_weighted_noise(const std::vector<double>& shares, const std::vector<double>& noises);

/// The p-th percentile (0..100) of already sorted samples, linear interpolation.
double percentile_sorted(const std::vector<double>& sorted, double p);

}  // namespace dlbench
