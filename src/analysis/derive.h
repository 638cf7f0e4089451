// The derivation: every figure dlbench computes from what the harness measured. One function,
// derive(), turns a measurement, the problem's work counts and the ceilings into the derived
// metrics, the ceiling-sanity judgement and the bound verdict; every kind of run (a single
// problem, a composite's sum of parts, the merge of a group's ranks) calls it. Adding a metric is
// one change here. See docs/architecture.md ("Data flow") and docs/metrics.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/ceiling.h"
#include "core/result.h"
#include "core/timeline.h"
#include "core/workload.h"

namespace dlbench {

/// The most samples a metric stores in a results file (evenly kept); its statistics are over
/// every sample.
constexpr size_t kMaxStoredSamples = 10000;
/// A figure above this % of a measured ceiling marks the ceiling stale; above this % of a
/// theoretical one, the derivation is wrong for the machine.
constexpr double kStaleCeilingPct = 105;
/// STREAM's array-size rule: each array at least this many times the last-level cache.
constexpr double kStreamCacheMultiple = 4;

/// An input pipeline is the bound when its consumer waits for data more than this % of the time
/// (the complement of MLPerf Storage's 90% accelerator-utilisation rule).
constexpr double kInputStallBoundPct = 10.0;

/// What the harness measured for one problem: the input of derive().
struct Measurement {
  /// Wall seconds per step, one per sample (a sample may time several steps together). Empty
  /// for a composite, whose step time is `step_time_s` (the sum of its parts' medians).
  std::vector<double> step_times;
  double step_time_s = 0;  ///< the step time when step_times is empty
  /// Device-event seconds per step on accelerators; empty on the CPU.
  std::vector<double> device_times;
  double measured_seconds = 0;     ///< wall time of the measured steps, every repetition
  TimelineTotals timeline;         ///< the input pipeline and communication over the measured steps
  double dispatch_s_per_call = 0;  ///< a trivial operator call on the device (0: not measured)
  bool dry_run = false;            ///< one step without warm-up: rates are not judged
};

/// The ceilings a problem's figures are held to.
struct Ceilings {
  std::optional<Ceiling> compute;    ///< measured (`dlbench peak`) where known, else theoretical
  std::optional<Ceiling> bandwidth;  ///< measured where known, else theoretical
  std::optional<Ceiling> theoretical_compute;
  std::optional<Ceiling> theoretical_bandwidth;
  double last_level_cache_bytes = 0;  ///< the cache kernels stream through (0: unknown)
  std::string device;                 ///< "cpu", "cuda:0": for stale-ceiling entries
  int threads = 1;                    ///< threads per rank the ceilings were measured with
};

/// The ceilings of `work` on `device` with `threads` threads per rank, each times `ranks` (every
/// rank has its own device or threads): compute ones when FLOPs are counted, bandwidth ones
/// when bytes are. Measured ceilings come from the cache of `dlbench peak`.
Ceilings ceilings_for(const WorkCounts& work, const std::string& device, int threads, int ranks);

/// The evidence each part of the derivation gives for the bound verdict.
struct BoundEvidence {
  std::optional<Bound> composite;      ///< a composite: the verdict of most of its parts' time
  std::optional<Bound> communication;  ///< exposed communication is most of the step
  std::optional<Bound> input;          ///< the input pipeline: "input" or "accelerator"
  std::optional<Bound> collective;     ///< a collective: its time is the interconnect's
  std::optional<Bound> roofline;       ///< the roofline verdict (analysis/bound.h)
};

/// The one bound verdict of a result, by explicit precedence: a composite's parts, then
/// communication the step waits for, then the input pipeline, then a collective's interconnect,
/// then the roofline. nullopt when no evidence applies.
std::optional<Bound> decide_bound(const BoundEvidence& evidence);

/// The figures of an input pipeline over a measured window.
struct InputFigures {
  /// % of the measured wall time the consumer spent blocked waiting for data:
  /// 100 x wait / wall.
  double stall_share = 0;
  /// Samples per second the loader could sustain with its workers busy all the time:
  /// samples / (load time / max(1, workers)). 0 when nothing was loaded.
  double loader_samples_per_s = 0;
  /// % of the wall time an accelerator with the emulated compute time per batch was busy:
  /// 100 x batches x compute time per batch / wall. Empty when the compute time is unknown.
  std::optional<double> accelerator_utilization;
  /// stall_share > `stall_threshold_percent`.
  bool input_bound = false;
};

/// The input-pipeline figures from a timeline's input totals over a measured window of
/// `measured_wall_seconds`; `stall_threshold_percent` decides input_bound.
InputFigures input_figures(const TimelineTotals& input, double measured_wall_seconds,
                           double stall_threshold_percent = kInputStallBoundPct);

/// A per-step time metric: its median and statistics over every sample, and at most
/// kMaxStoredSamples of the samples, evenly kept.
Metric time_metric(const std::vector<double>& samples);

/// Every metric name derive() may write. Derivation starts by removing these from the result,
/// so deriving again (a rank merge) never keeps a stale figure.
const std::vector<std::string>& derived_metric_names();

/// Derives the figures of `result` (its work counts, params and status are read) from
/// `measurement` under `ceilings`: step and device time, throughput, FLOP/s, bandwidth, % of
/// each ceiling, arithmetic intensity, a collective's algbw and busbw, the input pipeline's
/// stall share, loader throughput and accelerator utilisation, data-parallel communication
/// figures; the ceilings, ceiling sanity (run.ceiling_sanity, run.stale_ceilings, notes),
/// run.input and run.comm; and result.bound through decide_bound(), with `composite` as the
/// verdict of a composite's parts. A problem with an `au_threshold` parameter becomes INVALID
/// below it (not in a dry run). Replaces whatever an earlier derivation wrote.
void derive(Result& result, const Measurement& measurement, const Ceilings& ceilings,
            const std::optional<Bound>& composite = std::nullopt);

/// The input figures of a quality run over its training time (evaluations excluded), and its
/// verdict: "input" when the loader cannot keep up, "-" when it can.
void derive_quality_input(Result& result, const TimelineTotals& training, double train_seconds);

/// The measurement a result was derived from, as far as the result keeps it (samples are the
/// stored ones): what a rank merge combines.
Measurement measurement_of(const Result& result);

}  // namespace dlbench
