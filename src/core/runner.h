// The runner: owns the clock and the run rules, and turns a problem into a Result.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/distributed.h"
#include "core/problem.h"
#include "core/result.h"

namespace dlbench {

/// Sampling rule: a sample lasts at least the larger of kMinSampleSeconds and
/// kSampleFloorOverheads times the cost of timing an empty sample (measured before the
/// repetitions), so the clock's cost is under 1% of it; shorter steps are timed in groups.
constexpr double kMinSampleSeconds = 50e-6;
constexpr double kSampleFloorOverheads = 100;
/// Empty samples timed to measure the timer's own cost.
constexpr int kTimerOverheadCalls = 200;
/// The most steps timed together in one sample.
constexpr int64_t kMaxStepsPerSample = 1 << 20;
/// The most samples a metric stores in a results file (evenly kept); its statistics are over
/// every sample.
constexpr size_t kMaxStoredSamples = 10000;

/// Trivial operator calls timed together to measure the dispatch floor of a call.
constexpr int kDispatchCalls = 1000;

/// A figure above this % of a measured ceiling marks the ceiling stale; above this % of a
/// theoretical one, the derivation is wrong for the machine.
constexpr double kStaleCeilingPct = 105;
/// STREAM's array-size rule: each array at least this many times the last-level cache.
constexpr double kStreamCacheMultiple = 4;

/// Run rules. Warm-up runs until both warmup_steps and warmup_time are reached; each of
/// `repeats` repetitions measures until both min_steps and min_time are reached (or max_time
/// passes, which is noted). A result whose noise (the CV of the repetition medians; of the
/// step times when there is one repetition) exceeds cv_bound is marked noisy.
struct RunOptions {
  int warmup_steps = 3;
  double warmup_time = 0.5;  ///< seconds
  int min_steps = 10;
  double min_time = 1.0;   ///< seconds per repetition
  double max_time = 60.0;  ///< seconds per repetition, a cap for slow steps
  int repeats = 3;
  double cv_bound = 0.05;  ///< noise bound: CV of repetition medians (of steps if repeats=1)
  bool dry_run = false;    ///< one step, no warm-up: proves the problem runs (CI)
  bool isolate = true;     ///< each problem in a child process
  double timeout = 600;    ///< seconds per problem when isolated
  bool check = true;       ///< run the workload's correctness check
  /// Where a quality run (mode=quality) writes its MLPerf-style log (empty: no log). The CLI
  /// puts it beside the results file.
  std::string mllog;
  /// A distributed problem: the rank and rendezvous its process group forms with (inactive:
  /// one rank). The CLI fills it in per problem (docs/distributed.md).
  dist::GroupSpec group;

  nlohmann::json to_json() const;
  static RunOptions from_json(const nlohmann::json& j);
};

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
