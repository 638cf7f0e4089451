// Training to quality (mode=quality): the harness side of HPC AI500's time-to-quality and
// MLPerf Training's time-to-train. It builds the loaders, feeds the workload's QualityTask,
// evaluates on the held-out split at the task's cadence, stops at the target or the budget,
// repeats over seeds, and writes the MLPerf-style log. Definitions: docs/quality.md.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "analysis/quality_figures.h"
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

/// Runs a quality problem in this process and fills `result` (metrics, status, the curve of
/// every run in result.run["quality_runs"]). Throws like a workload's setup would (Unsupported,
/// Error); the caller turns that into SKIPPED / FAILED.
void run_quality_problem(Result& result, const Problem& resolved, const RunOptions& options);

}  // namespace dlbench
