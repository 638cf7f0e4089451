// io/storage: a storage benchmark in the spirit of MLPerf Storage. A dataset of random samples is
// written once into shard files; a loader reads it back with worker threads (optionally with a
// per-sample decode cost and device latency, and with the page cache dropped before each epoch);
// an emulated accelerator consumes each batch by sleeping a calibrated compute time. The result
// is the samples/s storage and loader sustain, and (from the harness, through the timeline the
// loader records into) the input-stall share and accelerator utilisation. See
// docs/workloads/storage.md.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/registry.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "data/loader.h"
#include "data/shards.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;

/// splitmix64: the generator of the samples' bytes.
uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The dataset before it is written: sample i is `sample_bytes` random bytes drawn from
/// (seed, i) and a label i mod 1000, so any sample can be regenerated to check a read.
class RandomBytesSource : public data::BatchSource {
 public:
  RandomBytesSource(int64_t samples, int64_t sample_bytes, uint64_t seed)
      : samples_(samples), sample_bytes_(sample_bytes), seed_(seed) {}
  int64_t size() const override { return samples_; }
  data::Batch load(const std::vector<int64_t>& indices, uint64_t) const override {
    const int64_t count = static_cast<int64_t>(indices.size());
    torch::Tensor bytes = torch::empty({count, sample_bytes_}, torch::kUInt8);
    torch::Tensor labels = torch::empty({count}, torch::kInt64);
    unsigned char* out = bytes.data_ptr<uint8_t>();
    int64_t* label = labels.data_ptr<int64_t>();
    for (int64_t k = 0; k < count; ++k) {
      uint64_t state = seed_ * 0x2545f4914f6cdd1dULL + static_cast<uint64_t>(indices[k]);
      unsigned char* row = out + k * sample_bytes_;
      for (int64_t at = 0; at < sample_bytes_; at += 8) {
        uint64_t word = splitmix(state);
        std::memcpy(row + at, &word, static_cast<size_t>(std::min<int64_t>(8, sample_bytes_ - at)));
      }
      label[k] = indices[k] % 1000;
    }
    data::Batch batch;
    batch.tensors = {bytes, labels};
    batch.size = count;
    return batch;
  }
  std::string describe() const override {
    return fmt::format("{} random samples of {} bytes (seed {}) with labels i mod 1000", samples_,
                       sample_bytes_, static_cast<unsigned long long>(seed_));
  }

 private:
  int64_t samples_;
  int64_t sample_bytes_;
  uint64_t seed_;
};

/// The largest dataset io/storage writes: far beyond the MLPerf Storage profiles (a few TiB), far
/// below what a typo in `samples` or `sample_bytes` asks for.
constexpr double kMaxDatasetBytes = 64.0 * (int64_t{1} << 40);
/// The most samples: the index (24 bytes per sample) is held in memory.
constexpr int64_t kMaxSamples = int64_t{1} << 27;
/// Bytes a sample takes on disk beyond its own: record framing, the label tensor, the index.
constexpr int64_t kSampleOverhead = 8 + 12 + 24 + 24 + 24;

/// A new private directory for this instance's shards, under the scratch directory an isolated
/// problem's supervisor removes however its child ends (else DLBENCH_IO_DIR, else the temp dir).
std::string make_dataset_dir() {
  return make_private_directory(scratch_directory(), "dlbench-io-");
}

class Storage : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "io/storage";
    info.category = "io";
    info.description =
        "MLPerf Storage-style: sharded dataset on disk -> loader workers -> accelerator emulated "
        "by a sleep per batch; samples/s at an accelerator utilisation threshold";
    info.params = {
        ParamSpec::integer("sample_bytes", 114660,
                           "bytes per sample (default: MLPerf Storage's ResNet-50 mean, 114660)", 1,
                           int64_t{1} << 30),
        ParamSpec::integer("samples", 2048,
                           "samples in the dataset (an epoch is samples / batch steps)", 1,
                           kMaxSamples),
        ParamSpec::integer("batch", 32, "samples per batch (per emulated accelerator step)", 1,
                           int64_t{1} << 20),
        ParamSpec::integer("workers", 2, "loader threads (0: load on the consumer's thread)", 0,
                           256),
        ParamSpec::integer("prefetch", 2, "batches each worker may have ready ahead", 1, 64),
        ParamSpec::integer("shards", 8, "shard files the dataset is written into", 1, 4096),
        ParamSpec::real("decode_us", 0.0,
                        "CPU work per sample, in calibrated microseconds (real arithmetic over "
                        "the sample's bytes)",
                        0.0, 1e7),
        ParamSpec::real("read_latency_us", 0.0,
                        "a sleep before each sample's read: a slower device's latency", 0.0, 1e7),
        ParamSpec::real("compute_ms", 18.0,
                        "emulated accelerator time per batch (sleep); default: MLPerf Storage's "
                        "ResNet-50 on H100, 0.224 s per 400 samples, scaled to 32",
                        0.0, 600000.0),
        ParamSpec::boolean("drop_cache", true,
                           "drop the shards' page cache before each epoch (posix_fadvise, best "
                           "effort)"),
        ParamSpec::real("au_threshold", 90.0,
                        "accelerator utilisation (%) a passing run keeps (MLPerf Storage: 90)", 0.0,
                        100.0),
    };
    return info;
  }

  explicit Storage(const Problem& problem)
      : Workload(problem),
        sample_bytes_(problem.get_int("sample_bytes")),
        samples_(problem.get_int("samples")),
        batch_(problem.get_int("batch")),
        workers_(static_cast<int>(problem.get_int("workers"))),
        prefetch_(static_cast<int>(problem.get_int("prefetch"))),
        shards_(static_cast<int>(problem.get_int("shards"))),
        decode_us_(problem.get_double("decode_us")),
        read_latency_us_(problem.get_double("read_latency_us")),
        compute_ms_(problem.get_double("compute_ms")),
        drop_cache_(problem.get_bool("drop_cache")),
        au_threshold_(problem.get_double("au_threshold")) {
    if (dataset_bytes() > kMaxDatasetBytes) {
      throw Error(fmt::format(
          "io/storage: samples={} x sample_bytes={} is a {} dataset; at most {}: lower "
          "samples or sample_bytes",
          samples_, sample_bytes_, format_bytes(dataset_bytes()), format_bytes(kMaxDatasetBytes)));
    }
  }

  ~Storage() override { teardown(); }

  WorkCounts work() const override {
    WorkCounts work;
    work.samples = static_cast<double>(batch_);
    work.bytes = static_cast<double>(batch_) * static_cast<double>(sample_bytes_);
    work.sample_unit = "samples";
    work.dtype = "uint8";
    work.primary = "throughput";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format(
        "{} samples of {} in {} shards, read by {} loader workers (prefetch {}) in batches of "
        "{}; the accelerator is a {:g} ms sleep per batch",
        samples_, format_bytes(static_cast<double>(sample_bytes_)), shards_, workers_, prefetch_,
        batch_, compute_ms_);
    d.facts = {
        {"dataset",
         format_bytes(static_cast<double>(samples_) * static_cast<double>(sample_bytes_)) +
             " of random bytes, written once at setup into a private directory (under "
             "DLBENCH_IO_DIR, else the temp dir), checked against the free space first, "
             "removed at teardown (and by the supervisor when the problem is killed)"},
        {"per sample",
         fmt::format("pread of one record + CRC32 check; decode {:g} us of calibrated "
                     "CPU work; read latency {:g} us (sleep)",
                     decode_us_, read_latency_us_)},
        {"page cache", drop_cache_ ? "dropped before each epoch (posix_fadvise DONTNEED, best "
                                     "effort, not O_DIRECT)"
                                   : "kept (reads after the first epoch may come from memory)"},
        {"accelerator", fmt::format("emulated: sleeps compute_ms = {:g} ms per batch, as MLPerf "
                                    "Storage does",
                                    compute_ms_)},
        {"passing", fmt::format("accelerator utilisation >= {:g}% (input stall <= {:g}%)",
                                au_threshold_, 100 - au_threshold_)},
        {"bytes formula", "batch x sample_bytes per step"},
        {"check", "two samples read back through the shards equal the generated bytes"}};
    return d;
  }

  void setup(ExecContext& context) override {
    if (samples_ < batch_) {
      throw Error(fmt::format("io/storage: samples={} is less than one batch (batch={})", samples_,
                              batch_));
    }
    if (shards_ > samples_) {
      throw Error(fmt::format("io/storage: shards={} exceeds samples={}", shards_, samples_));
    }
    generator_ = std::make_shared<RandomBytesSource>(samples_, sample_bytes_, context.seed);
    dir_ = make_dataset_dir();
    // A dataset that cannot fit fails here, before a byte is written, not when the disk is full.
    if (std::optional<uint64_t> free = available_bytes(dir_)) {
      if (dataset_bytes() > static_cast<double>(*free)) {
        std::string dir = dir_;
        remove_dataset();
        throw Error(fmt::format(
            "io/storage: the dataset needs {} but {} has {} free: lower samples or "
            "sample_bytes, or set DLBENCH_IO_DIR to a larger file system",
            format_bytes(dataset_bytes()), dir, format_bytes(static_cast<double>(*free))));
      }
    }
    data::write_shards(*generator_, dir_, shards_,
                       data::ShardWriteOptions{context.seed, write_chunk(), true});
    source_ =
        std::make_shared<data::ShardSource>(dir_, data::DecodeCost{decode_us_, read_latency_us_});
    data::LoaderOptions options;
    options.batch_size = batch_;
    options.workers = workers_;
    options.prefetch = prefetch_;
    options.shuffle = true;
    options.drop_last = true;
    options.seed = context.seed;
    options.timeline = context.timeline;
    // The emulated accelerator's time per batch: the harness's accelerator utilisation.
    if (context.timeline) context.timeline->emulated_compute(compute_ms_ / 1000.0);
    if (drop_cache_) source_->drop_page_cache();
    loader_ = std::make_unique<data::Loader>(source_, options);
    epoch_ = 0;
    loader_->start_epoch(epoch_);
  }

  void step() override {
    std::optional<data::Batch> batch = loader_->next();
    if (!batch) {
      ++epoch_;
      if (drop_cache_) source_->drop_page_cache();
      loader_->start_epoch(epoch_);
      batch = loader_->next();
      if (!batch) throw Error("io/storage: an epoch yielded no batch");
    }
    consumed_ += batch->size;
    if (compute_ms_ > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(compute_ms_));
    }
  }

  CheckOutcome check() override {
    const std::vector<int64_t> probe = {0, samples_ - 1};
    data::Batch expected = generator_->load(probe, 0);
    data::Batch read = source_->load(probe, 0);
    double differing = 0;
    for (size_t t = 0; t < expected.tensors.size(); ++t) {
      differing += read.tensors[t].ne(expected.tensors[t]).sum().item<double>();
    }
    return CheckOutcome::compare(differing, 0,
                                 "elements of samples 0 and n-1 that differ from the generated "
                                 "ones after the round trip through the shards");
  }

  void teardown() override {
    loader_.reset();
    source_.reset();
    generator_.reset();
    remove_dataset();
  }

  /// The accelerator utilisation (%) a passing run keeps.
  double au_threshold() const { return au_threshold_; }

 private:
  /// Bytes the dataset takes on disk: shards and index.
  double dataset_bytes() const {
    return static_cast<double>(samples_) * static_cast<double>(sample_bytes_ + kSampleOverhead);
  }

  /// Samples generated per write: 64, or fewer so that a chunk stays within 64 MiB.
  int64_t write_chunk() const {
    return std::max<int64_t>(1, std::min<int64_t>(64, (int64_t{64} << 20) / sample_bytes_));
  }

  void remove_dataset() {
    if (dir_.empty()) return;
    remove_tree(dir_);
    dir_.clear();
  }

  int64_t sample_bytes_;
  int64_t samples_;
  int64_t batch_;
  int workers_;
  int prefetch_;
  int shards_;
  double decode_us_;
  double read_latency_us_;
  double compute_ms_;
  bool drop_cache_;
  double au_threshold_;

  std::string dir_;
  std::shared_ptr<RandomBytesSource> generator_;
  std::shared_ptr<data::ShardSource> source_;
  std::unique_ptr<data::Loader> loader_;
  int64_t epoch_ = 0;
  int64_t consumed_ = 0;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Storage);

}  // namespace dlbench
