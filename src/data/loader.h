// The input pipeline: a source that reads, decodes and augments samples, and a loader that runs
// it on worker threads with a bounded prefetch queue, the way a training job's data loader does.
// The loader keeps the time its consumer spent waiting for data: the input stall
// (docs/metrics.md, "Input pipeline"; the design is in docs/input-pipeline.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/timeline.h"

namespace dlbench::data {

/// A batch of samples: host tensors in the order the source defines (e.g. {images, labels}),
/// the first dimension of each being the batch.
struct Batch {
  std::vector<torch::Tensor> tensors;
  int64_t size = 0;   ///< samples in the batch
  int64_t index = 0;  ///< position in the epoch (0-based)
  int64_t epoch = 0;  ///< the epoch it belongs to (set by the Loader)
};

/// Where samples come from. `load` is called from several loader threads at once and must be
/// thread-safe (const, no shared mutable state). It does the work the real pipeline does on the
/// CPU: read, decode, augment, collate. Keep it to plain loops and torch operations on small
/// tensors: a large torch operation would start LibTorch's intra-op parallelism from every loader
/// thread at once (docs/input-pipeline.md, "Threads").
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Samples in the source.
  virtual int64_t size() const = 0;
  /// Reads and prepares the samples at `indices` as one batch. `seed` differs per batch and
  /// epoch, for random augmentation that is reproducible whatever thread runs it.
  virtual Batch load(const std::vector<int64_t>& indices, uint64_t seed) const = 0;
  /// One line: what the samples are and where they come from.
  virtual std::string describe() const = 0;
};

/// How a loader runs.
struct LoaderOptions {
  int64_t batch_size = 32;
  int workers = 2;        ///< loader threads; 0 loads on the consumer's thread, synchronously
  int prefetch = 2;       ///< batches each worker may have ready ahead of the consumer (min 1)
  bool shuffle = true;    ///< a new permutation each epoch, from (seed, epoch)
  bool drop_last = true;  ///< drop the last partial batch of an epoch
  uint64_t seed = 0;
  /// Where the loader records its waits and loads for the harness (the execution context's
  /// timeline); nullptr: nowhere. Must outlive the loader.
  Timeline* timeline = nullptr;
};

/// What a loader did since its construction or the last reset_stats().
struct LoaderStats {
  int64_t batches = 0;         ///< batches handed to the consumer
  int64_t samples = 0;         ///< samples handed to the consumer
  double wait_seconds = 0;     ///< consumer time blocked in next() waiting for a batch
  double load_seconds = 0;     ///< time spent inside BatchSource::load, summed over threads
  double elapsed_seconds = 0;  ///< wall time since construction or reset
  int workers = 0;             ///< the loader's worker threads (LoaderOptions::workers)
};

/// Runs a BatchSource on worker threads and hands batches to one consumer in epoch order.
/// Batch b of an epoch always holds the same samples, whatever the number of workers: the
/// permutation derives from (seed, epoch) alone and batches are delivered through a reorder
/// buffer. An exception thrown by the source (a corrupt file) is rethrown by next() on the
/// consumer, unchanged, when the consumer reaches the batch that failed.
class Loader {
 public:
  /// Starts the worker threads (idle until the first epoch). Throws Error on bad options.
  Loader(std::shared_ptr<const BatchSource> source, LoaderOptions options);
  /// Stops and joins the workers; waits at most for the loads already in progress.
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Batches per epoch (respecting drop_last).
  int64_t batches_per_epoch() const;
  /// Starts epoch `epoch` (its permutation derives from the seed and the epoch); workers begin
  /// producing at once. An unfinished previous epoch is abandoned: batches still loading for it
  /// are discarded when they finish.
  void start_epoch(int64_t epoch);
  /// The next batch of the epoch, waiting for it if needed; nullopt at the end of the epoch
  /// (and after an error was rethrown, until the next start_epoch). Starts epoch 0 when no
  /// epoch was started. Called from one consumer thread.
  std::optional<Batch> next();
  /// Counters (thread-safe).
  LoaderStats stats() const;
  /// Zeroes the counters (e.g. after warm-up).
  void reset_stats();
  /// The options it runs with.
  const LoaderOptions& options() const { return options_; }
  /// The source it loads from.
  const BatchSource& source() const { return *source_; }

 private:
  struct Impl;
  std::shared_ptr<const BatchSource> source_;
  LoaderOptions options_;
  std::unique_ptr<Impl> impl_;
};

/// A source over tensors already in host memory: sample i is row i of every tensor. Rows are
/// gathered with plain memory copies (no intra-op parallelism).
class TensorSource : public BatchSource {
 public:
  /// Every tensor must have the same first dimension (the sample count); throws Error if not.
  TensorSource(std::vector<torch::Tensor> tensors, std::string description);
  int64_t size() const override;
  Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override { return description_; }

 private:
  std::vector<torch::Tensor> tensors_;
  std::string description_;
};

/// The per-batch seed the loader passes to BatchSource::load: a hash of (seed, epoch, batch).
uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t batch);

/// The sample order of an epoch: a permutation of [0, size) derived from (seed, epoch) alone
/// (identity when `shuffle` is false).
std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle);

}  // namespace dlbench::data
