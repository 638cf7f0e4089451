#include "workloads/common/zipf.h"

#include <cmath>

#include "core/error.h"

namespace dlbench {

torch::Tensor zipf_ranks(torch::IntArrayRef shape, int64_t n, double alpha,
                         const torch::Device& device) {
  if (n < 1) throw Error("zipf_ranks: need at least one rank");
  auto long_options = torch::dtype(torch::kLong).device(device);
  if (alpha == 0) return torch::randint(n, shape, long_options);
  auto double_options = torch::dtype(torch::kDouble).device(device);
  torch::Tensor u = torch::rand(shape, double_options);
  torch::Tensor rank;
  if (n <= kZipfExactRanks) {
    torch::Tensor cdf = torch::arange(1, n + 1, double_options).pow_(-alpha).cumsum(0);
    cdf = cdf / cdf[n - 1];
    // The first rank whose CDF exceeds u.
    rank = torch::searchsorted(cdf, u.flatten(), /*out_int32=*/false, /*right=*/true).view(shape);
  } else if (std::abs(alpha - 1.0) < 1e-9) {
    // CDF of 1/x on [1, n + 1): log(x) / log(n + 1).
    rank = torch::floor(torch::pow(static_cast<double>(n) + 1, u)) - 1;
  } else {
    // CDF of x^-a on [1, n + 1): (x^(1-a) - 1) / ((n + 1)^(1-a) - 1).
    const double e = 1 - alpha;
    rank =
        torch::floor(torch::pow((std::pow(static_cast<double>(n) + 1, e) - 1) * u + 1, 1 / e)) - 1;
  }
  return rank.clamp(0, n - 1).to(torch::kLong);
}

}  // namespace dlbench
