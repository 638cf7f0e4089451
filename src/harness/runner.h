// The runner: turns a resolved problem into a Result in this process, choosing the strategy its
// kind of run needs (throughput, composite, quality; harness/strategies.h), and merges the results
// of a group's ranks. The measuring loop is in harness/measure.h, the figures in
// analysis/derive.h.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/problem.h"
#include "core/result.h"
#include "harness/run_options.h"

namespace dlbench {

/// Runs a resolved problem in this process. Never throws for problem-level failures: they
/// become FAILED (or SKIPPED for Unsupported) results with the reason.
Result run_in_process(const Problem& resolved, const RunOptions& options);

/// One result for a problem every rank of a group ran (rank 0 calls it with every rank's
/// result, in rank order; `hosts` names each rank's host). A step ends when the slowest rank
/// ends: the step time of step k is the maximum over ranks, and the figures are derived again
/// from it; per-rank work counts are multiplied by the ranks (unless work.group_counts);
/// communication figures are the mean over ranks. Each rank's own figures go to `ranks`. A
/// rank's failure fails the problem, and the reason names the rank (docs/distributed.md).
Result merge_rank_results(const std::vector<Result>& per_rank,
                          const std::vector<std::string>& hosts);

}  // namespace dlbench
