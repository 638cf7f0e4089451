// The figures of a quality run (mode=quality): how close a quality is to its target, HPC AI500's
// Valid FLOPS, and MLPerf's way of combining the runs of several seeds. See docs/quality.md.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace dlbench {

/// quality / target when higher is better, target / quality when lower is better: >= 1 once
/// the target is met.
double quality_ratio(double achieved, double target, bool higher_is_better);

/// True when `achieved` meets `target` in the metric's direction.
bool meets_target(double achieved, double target, bool higher_is_better);

/// HPC AI500's Valid FLOPS: flops x ratio^n, ratio = quality_ratio(...).
double valid_flops(double flops, double ratio, double n);

/// MLPerf's way of combining runs: with 3 or more runs the fastest and the slowest are dropped
/// and the rest averaged; with fewer, all are averaged. A run that did not reach the target
/// counts as infinitely slow: if one is among those kept, the mean is infinite (not valid).
struct RunMean {
  double mean = std::numeric_limits<double>::infinity();
  std::vector<size_t> kept;     ///< indices of the runs averaged
  std::vector<size_t> dropped;  ///< indices of the runs dropped
  bool valid() const { return mean < std::numeric_limits<double>::infinity(); }
};
RunMean olympic_mean(const std::vector<double>& times);

}  // namespace dlbench
