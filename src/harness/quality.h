// Training to quality (mode=quality): the harness side of HPC AI500's time-to-quality and
// MLPerf Training's time-to-train. It builds the loaders, feeds the workload's QualityTask,
// evaluates on the held-out split at the task's cadence, stops at the target or the budget,
// repeats over seeds, and writes the MLPerf-style log. Definitions: docs/quality.md.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/problem.h"
#include "core/result.h"
#include "harness/runner.h"

namespace dlbench {

/// The quality-run settings a problem carries (0 means "the task's default").
struct QualityOptions {
  double target = 0;      ///< overrides the task's target
  int runs = 1;           ///< independent runs with seeds seed, seed+1, ...
  double max_epochs = 0;  ///< overrides the task's epoch budget
  double eval_every = 0;  ///< overrides the task's evaluation cadence (epochs)
  double valid_n = 5;     ///< the exponent of Valid FLOPS
  double budget_s = 0;    ///< wall-clock budget per run (0: none)
  int workers = 2;        ///< loader threads
  int prefetch = 2;       ///< batches each loader thread may prepare ahead
};

/// Reads the quality settings from a resolved problem (absent parameters keep the defaults).
QualityOptions quality_options(const Problem& problem);

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

/// Runs a quality problem in this process and fills `result` (metrics, status, the curve of
/// every run in result.run["quality_runs"]). Throws like a workload's setup would (Unsupported,
/// Error); the caller turns that into SKIPPED / FAILED.
void run_quality_problem(Result& result, const Problem& resolved, const RunOptions& options);

}  // namespace dlbench
