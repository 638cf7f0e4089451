#include "analysis/quality_figures.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dlbench {

bool meets_target(double achieved, double target, bool higher_is_better) {
  if (std::isnan(achieved)) return false;
  return higher_is_better ? achieved >= target : achieved <= target;
}

double quality_ratio(double achieved, double target, bool higher_is_better) {
  if (std::isnan(achieved) || achieved <= 0 || target <= 0) return 0;
  return higher_is_better ? achieved / target : target / achieved;
}

double valid_flops(double flops, double ratio, double n) { return flops * std::pow(ratio, n); }

RunMean olympic_mean(const std::vector<double>& times) {
  RunMean mean;
  std::vector<size_t> order(times.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return times[a] < times[b]; });
  size_t drop = times.size() >= 3 ? 1 : 0;
  double sum = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i < drop || i + drop >= order.size()) {
      mean.dropped.push_back(order[i]);
    } else {
      mean.kept.push_back(order[i]);
      sum += times[order[i]];
    }
  }
  if (!mean.kept.empty()) mean.mean = sum / static_cast<double>(mean.kept.size());
  return mean;
}

}  // namespace dlbench
