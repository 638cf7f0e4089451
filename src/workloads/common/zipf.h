// Zipf-distributed draws, shared by every workload that generates skewed ids: embedding lookups
// (micro/embedding), recommendation ids (model/recsys) and token ids (model/nlp).
#pragma once

#include <torch/torch.h>

namespace dlbench {

/// Ranks in [0, n) with P(rank r) proportional to (r + 1)^-alpha (alpha = 0: uniform), drawn
/// from the current torch generator, on `device`. Exact (inverse CDF over the n weights) up to
/// kZipfExactRanks ranks; beyond, the inverse CDF of the continuous power law on [1, n + 1), whose
/// head probabilities differ from the exact ones by a few percent (tables of tens of millions of
/// rows, where an exact CDF would cost hundreds of MB).
torch::Tensor zipf_ranks(torch::IntArrayRef shape, int64_t n, double alpha,
                         const torch::Device& device = torch::kCPU);

/// Above this many ranks zipf_ranks uses the continuous approximation.
constexpr int64_t kZipfExactRanks = int64_t{1} << 22;

}  // namespace dlbench
