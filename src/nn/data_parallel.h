// Data-parallel training on c10d backends, as PyTorch's DistributedDataParallel (DDP) does it:
// every rank holds a full replica, trains on its own slice of the global batch, and the ranks
// average their gradients after each backward pass, so the replicas stay identical.
//
// What is overlapped. GradientReducer groups the parameters into buckets (flat buffers of at most
// the bucket cap, filled in REVERSE registration order, since backward produces the gradients of
// the last layers first). As in DDP, the first bucket of each dtype and device is smaller (1 MiB),
// so that communication starts early in the backward pass instead of after 25 MiB of gradients. A
// hook on every parameter copies the parameter's gradient into its bucket slot as soon as autograd
// computes it; when a bucket's last gradient has arrived, the hook launches an asynchronous
// allreduce (sum) of that bucket at once, while autograd goes on with the earlier layers. So the
// communication of the late buckets overlaps the rest of the backward pass; only what is still in
// flight when backward returns is exposed. Buckets are launched in bucket order (a bucket that
// fills early waits for the ones before it), so every rank issues the collectives in the same order
// whatever order its gradients arrive in.
//
// Times, per step (prepare() ... finish()), on std::chrono::steady_clock:
// - comm time (`comm_time`): the communication busy time, the length of the union over buckets of
//   [launch, completion]. Launch is just before the allreduce call; completion is recorded by a
//   callback on the work's future (Work::getFuture), or, for a backend without futures, when
//   finish() returns from Work::wait (an upper bound). Communication that overlaps backward counts.
//   Caveat: a backend whose future completes when the work is queued on a device stream (NCCL)
//   gives launch-side times here; time NCCL with CUDA events instead.
// - comm share (`comm_share`): comm time / step wall time, computed by the caller.
// - exposed comm time (`exposed_comm_time`): the wall time spent inside finish() until every
//   bucket has completed, i.e. after backward ended: launching the buckets not launched yet and
//   waiting for all of them. It excludes the averaging and the copy into .grad that follow. It is
//   the part of the communication that the backward pass did not hide.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/comm_backend.h"
#include "core/timeline.h"

namespace dlbench::nn {

/// Makes every rank's `tensors` (parameters and buffers, the same list in the same order on every
/// rank) equal to rank `root`'s, as DDP does at construction. The tensors are flattened into one
/// buffer per (dtype, device), each broadcast once, and copied back in place under NoGradGuard.
/// Blocks until done. Throws Error on an undefined tensor, a bad root or a failed broadcast.
void broadcast_parameters(const std::vector<torch::Tensor>& tensors, CommBackend& backend,
                          int root = 0);

/// Communication figures of GradientReducer (see the top of this file for the definitions).
struct ReducerStats {
  double comm_seconds = 0;     ///< communication busy time (union of bucket intervals)
  double exposed_seconds = 0;  ///< time in finish() waiting for buckets after backward ended
  double bytes = 0;            ///< bytes all-reduced (the bucket buffers' sizes)
  int64_t allreduces = 0;      ///< allreduce calls (one per bucket per step)
  int64_t steps = 0;           ///< finished steps
};

/// Averages gradients across the ranks of a c10d backend, bucketed and overlapped with backward
/// as DDP does. Use per step:
///
///   reducer.prepare();  loss.backward();  reducer.finish();  optimizer.step();
///
/// After finish() every rank holds the same .grad: the mean over ranks of the gradients of this
/// backward pass (it replaces .grad; gradients are not accumulated over several backward passes,
/// and a second backward between prepare() and finish() is an Error). A parameter that got no
/// gradient contributes zeros and keeps its .grad as it was. Every rank must construct the reducer
/// with the same parameters (same order, shapes, dtypes) and run the same steps, since the bucket
/// allreduces are collectives. The reducer registers hooks on the parameters and removes them on
/// destruction; it is neither copyable nor movable. The hooks may run on autograd threads.
class GradientReducer {
 public:
  /// DDP's default bucket cap: 25 MiB.
  static constexpr int64_t kDefaultBucketCapBytes = 25 * 1024 * 1024;
  /// DDP's cap on the first bucket (the last layers' gradients, launched first): 1 MiB.
  static constexpr int64_t kDefaultFirstBucketCapBytes = 1024 * 1024;

  /// Buckets `parameters` (trainable leaf tensors in registration order, dense, each once) by
  /// dtype and device in reverse order up to `bucket_cap_bytes` per bucket, the first of each
  /// dtype and device up to min(`first_bucket_cap_bytes`, `bucket_cap_bytes`) (a larger parameter
  /// gets a bucket of its own), and registers the gradient hooks. `world_size` must equal the
  /// backend's size; gradients are divided by it. `backend` must outlive the reducer. Throws Error
  /// on a bad argument.
  GradientReducer(std::vector<torch::Tensor> parameters, CommBackend& backend, int world_size,
                  int64_t bucket_cap_bytes = kDefaultBucketCapBytes,
                  int64_t first_bucket_cap_bytes = kDefaultFirstBucketCapBytes);
  /// Removes the hooks. Allreduces still in flight are not waited for (their buffers stay alive).
  ~GradientReducer();

  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Starts a step: call before backward. Resets which gradients have arrived. Throws Error when
  /// the previous step launched allreduces that finish() has not completed.
  void prepare();

  /// Ends a step: call after backward. Launches the buckets not launched yet (missing gradients
  /// count as zeros), waits for all, divides by the world size and writes each parameter's .grad
  /// from its slot (creating it when undefined; parameters that got no gradient keep theirs).
  /// Updates the statistics. Throws Error without prepare() or when an allreduce fails.
  void finish();

  /// The figures of the last finished step (steps == 1), zeros before the first one.
  ReducerStats last_step_stats() const;
  /// The figures summed over the steps finished since construction or reset_stats().
  ReducerStats total_stats() const;
  /// Zeroes total_stats().
  void reset_stats();

  /// Records every finished step's allreduces (their intervals and bytes) and its exposed wait
  /// into `timeline` (the execution context's; nullptr: nowhere), under `backend_name`.
  void record_into(Timeline* timeline, const std::string& backend_name);

  /// The number of buckets (allreduces per step).
  int64_t bucket_count() const;
  /// The size in bytes of each bucket, in bucket (launch) order.
  std::vector<int64_t> bucket_bytes() const;
  /// The parameters of each bucket, as indices into the constructor's list, in slot order.
  std::vector<std::vector<size_t>> bucket_parameters() const;

 private:
  /// When each bucket's allreduce was launched and completed in one step. Shared with the
  /// completion callbacks, which run on backend threads and may outlive the step or the reducer.
  struct CompletionLog {
    explicit CompletionLog(size_t buckets);
    std::mutex mutex;
    std::condition_variable completed_cv;
    std::vector<std::chrono::steady_clock::time_point> launched;
    std::vector<std::chrono::steady_clock::time_point> completed;
    std::vector<char> done;  ///< completion recorded
  };

  /// One parameter: its bucket slot and its state in the current step.
  struct ParameterSlot {
    torch::Tensor parameter;
    size_t bucket = 0;
    torch::Tensor slot;         ///< the parameter's 1-D view into its bucket buffer
    unsigned hook = 0;          ///< handle for Tensor::remove_hook
    bool arrived = false;       ///< the hook fired this step
    bool has_gradient = false;  ///< ... with a defined gradient
  };

  /// One flat buffer all-reduced as a whole.
  struct Bucket {
    std::vector<size_t> parameters;  ///< indices into parameters_, in slot order
    torch::Tensor buffer;
    int64_t pending = 0;  ///< gradients still to arrive this step
    c10::intrusive_ptr<c10d::Work> work;
    bool has_future = false;  ///< completion is recorded by a future callback
  };

  void assign_buckets(int64_t bucket_cap_bytes, int64_t first_bucket_cap_bytes);
  void on_gradient(size_t index, const torch::Tensor& gradient);
  void launch_filled_buckets();  // requires mutex_
  void launch(size_t bucket);    // requires mutex_

  CommBackend& backend_;
  int world_size_;
  Timeline* timeline_ = nullptr;
  std::vector<ParameterSlot> parameters_;
  std::vector<Bucket> buckets_;

  mutable std::mutex mutex_;  ///< guards everything below and the per-step state above
  bool step_open_ = false;    ///< between prepare() and finish()
  size_t next_bucket_ = 0;    ///< the first bucket not launched this step
  std::shared_ptr<CompletionLog> log_;
  ReducerStats last_;
  ReducerStats total_;
};

}  // namespace dlbench::nn
