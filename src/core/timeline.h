// The timeline of a measurement: what happened inside the measured steps besides the step's own
// work. The harness owns it and hands it to a workload through the execution context; the parts
// a workload builds with record their intervals into it (the input loader: waits for batches
// and workers' loads; the data-parallel gradient reducer: collectives in flight and the wait for
// them after backward). The harness opens it when measurement starts and reads its totals after.
// See docs/architecture.md, "Timeline".
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace dlbench {

/// What a timeline holds since measurement started.
struct TimelineTotals {
  // Input pipeline (the loader a step draws its batches from).
  bool has_input = false;   ///< a loader recorded into this timeline
  int input_workers = 0;    ///< loader worker threads (0: batches load in the step's thread)
  int input_prefetch = 0;   ///< batches loaded ahead per worker
  int64_t batches = 0;      ///< batches handed to the step
  double samples = 0;       ///< samples in them
  double input_wait_s = 0;  ///< time the step waited for batches (a synchronous load included)
  double input_load_s = 0;  ///< the load time of the batches handed over, summed
  double emulated_compute_s = 0;  ///< a step's emulated device time (io/...), 0 when none
  // Communication (data-parallel gradient all-reduces).
  int64_t comm_steps = 0;     ///< steps whose communication was recorded
  int64_t comm_calls = 0;     ///< collective calls
  double comm_bytes = 0;      ///< bytes they reduced
  double comm_busy_s = 0;     ///< time some collective was in flight (union of the calls)
  double comm_exposed_s = 0;  ///< time the steps waited for collectives after their backward
  std::string comm_backend;   ///< "gloo", "nccl"
};

/// Intervals recorded by a workload's building blocks during the measured steps. Safe to record
/// into from several threads.
class Timeline {
 public:
  using Clock = std::chrono::steady_clock;

  /// The clock every interval is read on.
  static Clock::time_point now() { return Clock::now(); }

  /// The input pipeline's shape: its workers and prefetch depth.
  void describe_input(int workers, int prefetch);
  /// The step waited from `start` to `end` for its next batch (with no workers, the wait is the
  /// load itself).
  void input_wait(Clock::time_point start, Clock::time_point end);
  /// The step received a batch of `samples` samples whose load took `load_seconds` (on a worker,
  /// possibly before measurement started: the load time pairs with the batches consumed).
  void input_batch(double samples, double load_seconds);
  /// Each step computes for `seconds` on an emulated device (io/... problems).
  void emulated_compute(double seconds);

  /// The backend collectives run on ("gloo", "nccl").
  void describe_comm(const std::string& backend);
  /// One collective of `bytes` was in flight from `start` to `end`. The calls of one step are
  /// recorded in the order they started; the busy time is the union of their intervals.
  void comm_call(Clock::time_point start, Clock::time_point end, double bytes);
  /// A step waited from `start` to `end` for its collectives after backward (once per step).
  void comm_exposed(Clock::time_point start, Clock::time_point end);

  /// Forgets every interval (not the shapes): measurement starts now.
  void start_measurement();
  /// The totals since start_measurement() (or construction).
  TimelineTotals totals() const;

 private:
  mutable std::mutex mutex_;
  TimelineTotals totals_;
  Clock::time_point comm_covered_until_{};
};

}  // namespace dlbench
