// A whole `dlbench run`: the results file, the ceilings, the rendezvous of a distributed run, one
// problem after another (each rank's results gathered and merged on rank 0), progress lines and
// the saves that keep every measured result. The command line builds a RunRequest; this runs it.
// See docs/architecture.md ("Data flow").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/distributed.h"
#include "core/problem.h"
#include "core/result.h"
#include "harness/run_options.h"

namespace dlbench {

/// What one run is asked to do, validated: the problems, each with its run options.
struct RunRequest {
  std::vector<Problem> problems;
  std::vector<RunOptions> problem_options;          ///< one per problem
  RunOptions options;                               ///< the command line's (the invocation block)
  std::string label = "run";                        ///< names the default results file
  nlohmann::json suites = nlohmann::json::array();  ///< the suites named (the invocation block)
  std::vector<std::string> command_line;
  std::string out;               ///< results file; "" = results/<label>-<time>.json, "-" = stdout
  bool quiet = false;            ///< no progress lines
  bool measure_ceilings = true;  ///< measure missing ceilings first (`dlbench peak`)
  double dist_timeout = 120;     ///< seconds a rank waits for its peers
  std::string scaling = "weak";  ///< recorded in context.distributed
  /// Reporters as sinks. `on_result` sees each result once it is saved (index from 1), unless
  /// quiet; `on_complete` sees the complete document before the file is closed, unless the
  /// results go to standard output (they replace the table there). Either may be empty.
  std::function<void(const Result&, size_t index, size_t total)> on_result;
  std::function<void(const ResultsDocument&)> on_complete;
};

/// Runs a request as rank `me` (a single process: rank 0 of 1) and returns the exit status:
/// kExitOk, or kExitFailures when a problem FAILED, the run was interrupted or the results
/// could not be saved where asked. Throws Error on bad input before anything is measured.
int run_request(const RunRequest& request, const dist::RankInfo& me);

/// --scaling strong: the batch of each data-parallel problem (Workload::batch_size, the `batch`
/// parameter or its preset's) is the global batch, so each of `ranks` ranks takes batch / ranks
/// (the repro string then names the per-rank batch). The other problems (comm/..., micro/...)
/// are left as they are. Error when a batch does not divide.
std::vector<Problem> divide_batches(std::vector<Problem> problems, int ranks);

/// A new results file name under results/ for a run labelled `label`. The label (a suite's
/// name, a problem list's) is made safe first, so it cannot lead outside results/. With
/// `reserve`, the file is created empty (O_EXCL), so runs started in the same second each get
/// their own.
std::string default_results_path(const std::string& label, bool reserve = false);

/// Warns (one line on stderr) when other processes keep the machine busy before a run starts:
/// its results would be flagged contended (docs/metrics.md, "Conditions of a measurement").
void warn_if_busy();

/// True when an environment variable is set to something other than "" or "0".
bool env_flag(const char* name);

}  // namespace dlbench
