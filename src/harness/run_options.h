// The run rules a problem is measured under, as the CLI sets them and a child process receives
// them. See docs/metrics.md ("Run rules") and docs/architecture.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/distributed.h"

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

/// Trivial operator calls timed together to measure the dispatch floor of a call.
constexpr int kDispatchCalls = 1000;

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

}  // namespace dlbench
