// The scaling table of a `dlbench run --nproc 1,2,4` sweep.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace dlbench {

/// For each problem, each rank count's throughput, its scaling efficiency against the first
/// count (throughput_N / (N x throughput_first / first)) and its communication shares.
/// `documents[i]` holds the results of `counts[i]` ranks; `strong` names the scaling mode in the
/// heading.
std::string scaling_table(const std::vector<int>& counts,
                          const std::vector<ResultsDocument>& documents, bool strong);

}  // namespace dlbench
