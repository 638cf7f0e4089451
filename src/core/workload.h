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
  /// True when the counts cover only part of the work (whole models count the FLOPs of
  /// GEMM-class layers and no bytes): a low compute share then says nothing about latency, and
  /// the bound verdict is "unknown" rather than "latency".
  bool partial_accounting = false;
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

  /// A passed/failed outcome decided by error <= tolerance (NaN always fails).
  static CheckOutcome compare(double error, double tolerance, std::string metric,
                              std::string detail = "");
};

/// Extra facts `dlbench describe` prints (parameter count, shapes, formulas).
struct Description {
  std::string summary;
  std::vector<std::pair<std::string, std::string>> facts;
};

/// What a workload gets at setup: the device, the thread count, the seed.
struct ExecContext {
  Device& device;
  int threads = 1;
  uint64_t seed = 0;
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
