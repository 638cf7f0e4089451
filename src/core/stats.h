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

/// The p-th percentile (0..100) of already sorted samples, linear interpolation.
double percentile_sorted(const std::vector<double>& sorted, double p);

}  // namespace dlbench
