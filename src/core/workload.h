// The workload interface: a workload describes, sets up and steps; the runner owns the clock.
#pragma once

#include <cstdint>
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
  /// Releases resources.
  virtual void teardown() {}

 protected:
  Problem problem_;
};

}  // namespace dlbench
