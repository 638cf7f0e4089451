#include "core/stats.h"

#include <algorithm>
#include <cmath>

namespace dlbench {

double percentile_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  if (sorted.size() == 1) return sorted[0];
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lower = static_cast<size_t>(std::floor(rank));
  size_t upper = std::min(lower + 1, sorted.size() - 1);
  double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

std::vector<double> evenly_kept(const std::vector<double>& samples, size_t limit) {
  if (samples.size() <= limit) return samples;
  std::vector<double> kept;
  if (limit == 0) return kept;
  if (limit == 1) return {samples.front()};
  kept.reserve(limit);
  const double stride = static_cast<double>(samples.size() - 1) / static_cast<double>(limit - 1);
  for (size_t i = 0; i < limit; ++i) {
    kept.push_back(samples[static_cast<size_t>(std::llround(stride * static_cast<double>(i)))]);
  }
  return kept;
}

double share_weighted_noise(const std::vector<double>& shares, const std::vector<double>& noises) {
  double total = 0;
  for (size_t i = 0; i < shares.size() && i < noises.size(); ++i) total += shares[i] * noises[i];
  return total;
}

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double v : samples) sum += v;
  s.mean = sum / static_cast<double>(s.count);
  s.min = samples.front();
  s.max = samples.back();
  s.median = s.p50 = percentile_sorted(samples, 50);
  s.p90 = percentile_sorted(samples, 90);
  s.p99 = percentile_sorted(samples, 99);
  s.p999 = percentile_sorted(samples, 99.9);
  if (s.count > 1) {
    double squares = 0;
    for (double v : samples) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.count - 1));
  }
  s.cv = s.mean != 0 ? s.stddev / std::fabs(s.mean) : 0.0;
  return s;
}

}  // namespace dlbench
