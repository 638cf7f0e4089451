// The measuring loop: warm-up, repetitions, the timer, the sample floor and the rank vote. The
// one place dlbench reads the clock around a workload's step (and around a probe's call). See
// docs/metrics.md ("Run rules", "Samples") and docs/architecture.md.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/device.h"
#include "harness/run_options.h"

namespace dlbench {

namespace dist {
class ProblemGroup;
}  // namespace dist

/// The clock the harness measures with.
using Clock = std::chrono::steady_clock;

/// Seconds of `Clock` since `start`.
double seconds_since(Clock::time_point start);

/// The times of one call measured under the run rules. A sample is the mean step time of
/// `steps_per_sample` consecutive steps timed together.
struct Measured {
  std::vector<double> wall, device_times, repeat_medians;
  int warmup_done = 0;
  int64_t measured = 0;          ///< steps measured (samples x steps_per_sample)
  double measured_seconds = 0;   ///< wall time of the measured steps, all repetitions
  int64_t steps_per_sample = 1;  ///< steps timed together in one sample
  double timer_overhead = 0;     ///< median cost of timing one empty sample, seconds
  double sample_floor = 0;       ///< the shortest a sample may last, seconds
  bool capped = false;           ///< min_steps not reached within max_time
};

/// Warm-up, then `o.repeats` repetitions of at least min_steps steps and min_time seconds each
/// (a dry run: one call, no warm-up). Steps shorter than the sample floor (the larger of
/// kMinSampleSeconds and kSampleFloorOverheads x the timer's own cost) are timed in groups of
/// `steps_per_sample`, chosen from the warm-up's median step, so the clock's cost stays under
/// 1% of every sample. In a distributed problem (`group` not null) the ranks vote before every
/// sample (outside the timed region) and agree on steps_per_sample, so every rank makes the
/// same calls. `on_measure_start` runs when measurement starts (after warm-up); `label` prefixes
/// the progress line.
Measured measure_calls(const std::function<void()>& call, Device& device, const RunOptions& o,
                       dist::ProblemGroup* group,
                       const std::function<void()>& on_measure_start = nullptr,
                       const std::string& label = "");

/// The sampling rule of a measurement, for result.run (docs/metrics.md, "Samples").
nlohmann::json sampling_json(const Measured& m);

/// The cost of one trivial operator call on `device` (an in-place add on a one-element tensor):
/// the best of a few batches of kDispatchCalls calls, each ended by one synchronisation. The
/// least a step's calls can take whatever they compute. Measured once per device and process.
double trivial_call_seconds(Device& device);

}  // namespace dlbench
