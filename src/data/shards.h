// On-disk sharded datasets: write a BatchSource's samples once into shard files with a CRC32 per
// record and an index, then read them back with pread from any number of loader threads.
// Used by io/storage and by any pipeline that wants its data to come from storage. The formats
// are in docs/input-pipeline.md ("Shards").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"

namespace dlbench::data {

/// How write_shards runs.
struct ShardWriteOptions {
  uint64_t seed = 0;   ///< seed passed to the source's load (for sources that augment)
  int64_t chunk = 64;  ///< samples fetched from the source per load call
  bool sync = true;    ///< fsync every file, so the page cache can later be dropped
};

/// What write_shards wrote.
struct ShardSummary {
  int64_t samples = 0;      ///< records written (one per sample)
  int shards = 0;           ///< shard files
  int64_t shard_bytes = 0;  ///< bytes of all shard files together
};

/// Writes every sample of `source` once into `shard_count` shard files in `dir` (created if
/// missing): shard s holds a contiguous range of samples, one record each (the sample's tensors:
/// dtype, shape and raw bytes, and a CRC32 of the record). Then writes index.bin (where each
/// record is) and manifest.txt (shards, sizes, the index's CRC) last, so a directory with a
/// manifest is complete. Files of an earlier dataset in `dir` are replaced. Throws Error naming
/// the file on any write failure, and when the source's batches are not one row per sample.
ShardSummary write_shards(const BatchSource& source, const std::string& dir, int shard_count,
                          const ShardWriteOptions& options = {});

/// Extra per-sample cost a ShardSource adds to each read, to emulate a real pipeline.
struct DecodeCost {
  /// CPU work per sample, in microseconds of this machine's unloaded time: repeated passes of
  /// real arithmetic (an FNV-style hash) over the sample's bytes, in an iteration count
  /// calibrated once per process. Not a wall-clock loop: under CPU contention it takes longer,
  /// as real decoding would.
  double decode_us = 0;
  /// A sleep before each sample's read: the latency of a slower storage device (the thread
  /// blocks; no CPU is used).
  double read_latency_us = 0;
};

/// A dataset written by write_shards, read back sample by sample with pread (thread-safe). Every
/// record's CRC is checked on read. Opening checks the manifest (and its CRC), the index (size,
/// CRC, every entry inside its shard) and every shard's size and header; a missing, truncated or
/// corrupt file is one Error naming the file and what is wrong. Samples of a batch must agree in
/// dtype and shape per tensor.
class ShardSource : public BatchSource {
 public:
  /// Opens the dataset in `dir`.
  explicit ShardSource(const std::string& dir, DecodeCost cost = {});
  ~ShardSource() override;
  ShardSource(const ShardSource&) = delete;
  ShardSource& operator=(const ShardSource&) = delete;

  int64_t size() const override;
  /// Reads, verifies and collates the samples; applies the DecodeCost per sample.
  Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override;
  std::string describe() const override;

  /// Asks the kernel to drop the shard files' cached pages (posix_fadvise POSIX_FADV_DONTNEED),
  /// so the next reads come from the device. Best effort: pages of other processes' mappings or
  /// dirty pages stay, and it is not O_DIRECT. Returns false if the kernel refused for a file.
  bool drop_page_cache() const;
  /// The dataset's directory.
  const std::string& directory() const { return dir_; }
  /// Shard files.
  int shards() const { return static_cast<int>(shards_.size()); }
  /// Bytes of all shard files together.
  int64_t shard_bytes() const;
  /// The per-sample extra cost in use.
  const DecodeCost& cost() const { return cost_; }

 private:
  struct Shard {
    std::string path;
    int fd = -1;
    int64_t records = 0;
    int64_t bytes = 0;
  };
  struct Entry {
    uint32_t shard = 0;
    uint32_t record = 0;  // ordinal within its shard
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  void open_manifest();
  void open_index(const std::string& name, int64_t bytes, uint32_t crc);
  void open_shards();

  std::string dir_;
  DecodeCost cost_;
  int64_t samples_ = 0;
  std::string origin_;  // the source's describe() at write time
  std::vector<Shard> shards_;
  std::vector<Entry> entries_;
  uint64_t decode_iterations_ = 0;  // per sample, from decode_us
};

/// Iterations of the decode loop that take about one microsecond here (calibrated once per
/// process on its first call: the fastest of a few timed runs).
double decode_iterations_per_us();

/// The decode loop: `iterations` steps of an FNV-style hash over `bytes` (cycled). Returns the
/// hash so the work cannot be optimised away.
uint64_t decode_work(const unsigned char* bytes, size_t size, uint64_t iterations);

}  // namespace dlbench::data
