// The kinds of run the runner chooses between (docs/architecture.md, "Run kinds"): each takes a
// problem set up by run_in_process and fills its Result; the measuring loop (harness/measure.h)
// and the derivation (analysis/derive.h) are shared. The quality run is in harness/quality.h,
// the merge of a group's ranks in harness/runner.h.
#pragma once

#include "core/device.h"
#include "core/result.h"
#include "core/timeline.h"
#include "core/workload.h"
#include "harness/contention.h"
#include "harness/run_options.h"

namespace dlbench {

namespace dist {
class ProblemGroup;
}  // namespace dist

/// Throughput: warm-up and repetitions of the workload's step (every rank of `group` in
/// step), then the figures derived from the step times and what `timeline` recorded, and the
/// noise of the result.
void run_throughput(Result& result, Workload& workload, Device& device, const RunOptions& o,
                    int threads, dist::ProblemGroup* group, Timeline& timeline);

/// Measures each of the workload's probes under the same run rules: `<name>_time` (wall clock,
/// percentiles, raw samples), `<name>_device_time` on accelerators, `<name>_throughput` and
/// `<name>_share` of the step's median (device time where measured, else wall) when asked.
void run_probes(Result& result, Workload& workload, Device& device, const RunOptions& o,
                dist::ProblemGroup* group);

/// Composite (layer/...): every distinct part run as its own problem under the same rules;
/// the step time is the sum over parts of count x median part time, the verdict the one under
/// which most of the time is spent (see breakdown).
void run_composite(Result& result, const Workload& composite, const RunOptions& options);

/// Ranks of this run on this host: their CPU time is the run's own, not contention.
int local_ranks_on_host();

/// Records what the machine did during the measurement (run.conditions) and flags the result
/// contended, with a note saying why. A dry run is recorded, never flagged.
void record_conditions(Result& result, const Conditions& conditions, bool dry_run);

}  // namespace dlbench
