// The loader: worker threads claim batches of an epoch in order, load them, and park them in a
// reorder buffer; the consumer takes them in epoch order. The number of batches claimed but not
// yet taken is bounded by workers x prefetch, so a slow consumer holds the workers back instead
// of filling memory. See docs/input-pipeline.md.
#include "data/loader.h"

#include <fmt/core.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench::data {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

/// splitmix64's finaliser: a well-mixed 64-bit hash of a 64-bit value.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A hash of two values that is not symmetric (mix(a, b) != mix(b, a)).
uint64_t mix2(uint64_t a, uint64_t b) { return mix64(mix64(a) ^ (b + 0x632be59bd9b4e019ULL)); }

}  // namespace

uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t batch) {
  return mix2(mix2(seed, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(batch));
}

std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(size, 0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (!shuffle) return order;
  // Fisher-Yates with a splitmix64 stream seeded from (seed, epoch) only: the same on every
  // machine and whatever the worker count. The modulo bias is below 2^-40 for any real size.
  uint64_t state = mix2(seed ^ 0x5eed5eed5eed5eedULL, static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t r = mix64(state);
    size_t j = static_cast<size_t>(r % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

/// The shared state of a loader: everything below `mutex` is guarded by it.
struct Loader::Impl {
  /// A loaded batch waiting in the reorder buffer, or the error its load threw.
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
    double load_seconds = 0;  ///< the time its load took
  };

  const BatchSource* source = nullptr;
  LoaderOptions options;
  int64_t samples = 0;
  int64_t per_epoch = 0;
  int64_t capacity = 1;  // batches claimed but not yet taken by the consumer, at most

  mutable std::mutex mutex;
  std::condition_variable work_ready;   // workers wait here for a batch to claim
  std::condition_variable batch_ready;  // the consumer waits here for the next batch
  bool stopping = false;

  bool started = false;     // an epoch was started (next() starts epoch 0 otherwise)
  bool active = false;      // the current epoch still has batches to hand out
  uint64_t generation = 0;  // bumped by start_epoch: loads of older generations are dropped
  int64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t next_claim = 0;    // the next batch a worker will load
  int64_t next_deliver = 0;  // the next batch the consumer takes
  bool failed = false;       // a load of this epoch threw: claim nothing more
  std::map<int64_t, Slot> ready;

  LoaderStats stats;
  Clock::time_point stats_start = Clock::now();

  std::vector<std::thread> threads;

  /// Samples of batch `b` of the current epoch (call with the mutex held).
  std::vector<int64_t> indices_of(int64_t b) const {
    int64_t first = b * options.batch_size;
    int64_t last = std::min(samples, first + options.batch_size);
    return std::vector<int64_t>(order.begin() + first, order.begin() + last);
  }

  /// Loads batch `b` of `epoch_index` with the given samples, timing the load. Exceptions pass.
  Batch load(const std::vector<int64_t>& indices, int64_t epoch_index, int64_t b,
             double& load_seconds) const {
    Clock::time_point start = Clock::now();
    Batch batch;
    try {
      batch = source->load(indices, batch_seed(options.seed, epoch_index, b));
    } catch (...) {
      load_seconds = seconds_between(start, Clock::now());
      throw;
    }
    load_seconds = seconds_between(start, Clock::now());
    batch.size = static_cast<int64_t>(indices.size());
    batch.index = b;
    batch.epoch = epoch_index;
    return batch;
  }

  bool can_claim() const {
    return active && !failed && next_claim < per_epoch && next_claim < next_deliver + capacity;
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_ready.wait(lock, [this] { return stopping || can_claim(); });
      if (stopping) return;
      int64_t b = next_claim++;
      uint64_t claimed_generation = generation;
      int64_t claimed_epoch = epoch;
      std::vector<int64_t> indices = indices_of(b);
      lock.unlock();

      Slot slot;
      double seconds = 0;
      try {
        slot.batch = load(indices, claimed_epoch, b, seconds);
      } catch (...) {
        slot.error = std::current_exception();
      }

      slot.load_seconds = seconds;
      lock.lock();
      stats.load_seconds += seconds;
      if (claimed_generation != generation) continue;  // the epoch was abandoned
      if (slot.error) failed = true;
      ready.emplace(b, std::move(slot));
      if (b == next_deliver) batch_ready.notify_one();
    }
  }

  void begin(int64_t epoch_index) {
    ++generation;
    epoch = epoch_index;
    order = epoch_order(samples, options.seed, epoch_index, options.shuffle);
    ready.clear();
    next_claim = 0;
    next_deliver = 0;
    failed = false;
    started = true;
    active = per_epoch > 0;
  }
};

Loader::Loader(std::shared_ptr<const BatchSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(options), impl_(std::make_unique<Impl>()) {
  if (!source_) throw Error("loader: no data source");
  if (options_.batch_size < 1) {
    throw Error(fmt::format("loader: batch_size={}: must be at least 1", options_.batch_size));
  }
  if (options_.workers < 0) {
    throw Error(fmt::format("loader: workers={}: must be 0 (load on the caller) or more",
                            options_.workers));
  }
  if (options_.prefetch < 0) {
    throw Error(fmt::format("loader: prefetch={}: must be 0 or more", options_.prefetch));
  }
  Impl& impl = *impl_;
  impl.source = source_.get();
  impl.options = options_;
  impl.samples = source_->size();
  impl.per_epoch = options_.drop_last
                       ? impl.samples / options_.batch_size
                       : (impl.samples + options_.batch_size - 1) / options_.batch_size;
  impl.capacity = std::max(1, options_.workers) * std::max(1, options_.prefetch);
  impl.stats.workers = options_.workers;
  if (options_.timeline) options_.timeline->describe_input(options_.workers, options_.prefetch);
  impl.threads.reserve(static_cast<size_t>(options_.workers));
  try {
    for (int i = 0; i < options_.workers; ++i) {
      impl.threads.emplace_back([&impl] { impl.worker_loop(); });
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(impl.mutex);
      impl.stopping = true;
    }
    impl.work_ready.notify_all();
    for (std::thread& thread : impl.threads) thread.join();
    throw;
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_all();
  impl_->batch_ready.notify_all();
  for (std::thread& thread : impl_->threads) thread.join();
}

int64_t Loader::batches_per_epoch() const { return impl_->per_epoch; }

void Loader::start_epoch(int64_t epoch) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->begin(epoch);
  }
  impl_->work_ready.notify_all();
}

std::optional<Batch> Loader::next() {
  Impl& impl = *impl_;
  std::unique_lock<std::mutex> lock(impl.mutex);
  if (!impl.started) {
    impl.begin(0);
    impl.work_ready.notify_all();
  }
  if (!impl.active || impl.next_deliver >= impl.per_epoch) {
    impl.active = false;
    return std::nullopt;
  }
  const int64_t b = impl.next_deliver;

  if (options_.workers == 0) {
    // Synchronous: the consumer loads; all of that time is time it waited for data.
    std::vector<int64_t> indices = impl.indices_of(b);
    int64_t epoch = impl.epoch;
    lock.unlock();
    double seconds = 0;
    Batch batch;
    Clock::time_point start = Clock::now();
    try {
      batch = impl.load(indices, epoch, b, seconds);
    } catch (...) {
      if (options_.timeline) options_.timeline->input_wait(start, Clock::now());
      lock.lock();
      impl.stats.load_seconds += seconds;
      impl.stats.wait_seconds += seconds;
      impl.active = false;
      throw;
    }
    if (options_.timeline) {
      options_.timeline->input_wait(start, Clock::now());
      options_.timeline->input_batch(static_cast<double>(batch.size), seconds);
    }
    lock.lock();
    impl.stats.load_seconds += seconds;
    impl.stats.wait_seconds += seconds;
    ++impl.next_deliver;
    ++impl.stats.batches;
    impl.stats.samples += batch.size;
    return batch;
  }

  Clock::time_point start = Clock::now();
  impl.batch_ready.wait(lock, [&] { return impl.stopping || impl.ready.count(b) > 0; });
  Clock::time_point end = Clock::now();
  impl.stats.wait_seconds += seconds_between(start, end);
  if (options_.timeline) options_.timeline->input_wait(start, end);
  if (impl.stopping) return std::nullopt;
  auto found = impl.ready.find(b);
  Impl::Slot slot = std::move(found->second);
  impl.ready.erase(found);
  ++impl.next_deliver;
  if (slot.error) {
    // The epoch ends here: loads still running for it are dropped when they finish.
    impl.active = false;
    ++impl.generation;
    impl.ready.clear();
    std::rethrow_exception(slot.error);
  }
  ++impl.stats.batches;
  impl.stats.samples += slot.batch->size;
  if (options_.timeline) {
    options_.timeline->input_batch(static_cast<double>(slot.batch->size), slot.load_seconds);
  }
  lock.unlock();
  impl.work_ready.notify_one();  // a slot in the prefetch window opened
  return std::move(slot.batch);
}

LoaderStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  LoaderStats stats = impl_->stats;
  stats.elapsed_seconds = seconds_between(impl_->stats_start, Clock::now());
  return stats;
}

void Loader::reset_stats() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->stats = LoaderStats{};
  impl_->stats.workers = options_.workers;
  impl_->stats_start = Clock::now();
}

TensorSource::TensorSource(std::vector<torch::Tensor> tensors, std::string description)
    : description_(std::move(description)) {
  if (tensors.empty()) throw Error("tensor source '" + description_ + "': no tensors");
  int64_t rows = -1;
  for (torch::Tensor& tensor : tensors) {
    if (!tensor.defined() || tensor.dim() < 1) {
      throw Error("tensor source '" + description_ + "': every tensor needs a sample dimension");
    }
    if (rows >= 0 && tensor.size(0) != rows) {
      throw Error(
          fmt::format("tensor source '{}': tensors disagree on the sample count ({} vs "
                      "{})",
                      description_, rows, tensor.size(0)));
    }
    rows = tensor.size(0);
    tensors_.push_back(tensor.to(torch::kCPU).contiguous());
  }
}

int64_t TensorSource::size() const { return tensors_.front().size(0); }

Batch TensorSource::load(const std::vector<int64_t>& indices, uint64_t /*seed*/) const {
  Batch batch;
  const int64_t rows = size();
  for (int64_t index : indices) {
    if (index < 0 || index >= rows) {
      throw Error(fmt::format("tensor source '{}': sample {} out of range [0, {})", description_,
                              index, rows));
    }
  }
  for (const torch::Tensor& tensor : tensors_) {
    std::vector<int64_t> shape = tensor.sizes().vec();
    shape[0] = static_cast<int64_t>(indices.size());
    torch::Tensor out = torch::empty(shape, tensor.options());
    const size_t row_bytes = tensor.numel() == 0 ? 0
                                                 : static_cast<size_t>(tensor.nbytes()) /
                                                       static_cast<size_t>(tensor.size(0));
    const char* from = static_cast<const char*>(tensor.data_ptr());
    char* to = static_cast<char*>(out.data_ptr());
    for (size_t i = 0; i < indices.size(); ++i) {
      std::memcpy(to + i * row_bytes, from + static_cast<size_t>(indices[i]) * row_bytes,
                  row_bytes);
    }
    batch.tensors.push_back(std::move(out));
  }
  batch.size = static_cast<int64_t>(indices.size());
  return batch;
}

}  // namespace dlbench::data
