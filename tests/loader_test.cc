// Tests of the input pipeline: the loader's order, determinism, errors and shutdown; the input
// figures; sharded datasets (round trip and every kind of damaged file); io/storage end to end;
// and starvation (one slow worker is input-bound, eight are not).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "analysis/derive.h"
#include "core/error.h"
#include "data/loader.h"
#include "data/shards.h"
#include "test_util.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;
using data::Batch;
using data::BatchSource;
using data::Loader;
using data::LoaderOptions;
using data::LoaderStats;
using Clock = std::chrono::steady_clock;

/// A loader's counters as the timeline the harness reads would hold them.
TimelineTotals totals_of(const LoaderStats& stats, double emulated_compute_s) {
  TimelineTotals totals;
  totals.has_input = true;
  totals.batches = stats.batches;
  totals.samples = static_cast<double>(stats.samples);
  totals.input_wait_s = stats.wait_seconds;
  totals.input_load_s = stats.load_seconds;
  totals.input_workers = stats.workers;
  totals.emulated_compute_s = emulated_compute_s;
  return totals;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Sample i is the number i; the batch also carries its seed (one copy per sample). Optionally
/// sleeps per load, throws on one batch, and counts its loads.
class IndexSource : public BatchSource {
 public:
  explicit IndexSource(int64_t samples, double sleep_ms = 0, int64_t throw_on_sample = -1)
      : samples_(samples), sleep_ms_(sleep_ms), throw_on_sample_(throw_on_sample) {}
  int64_t size() const override { return samples_; }
  Batch load(const std::vector<int64_t>& indices, uint64_t seed) const override {
    ++loads;
    if (sleep_ms_ > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(sleep_ms_));
    }
    for (int64_t i : indices) {
      if (i == throw_on_sample_) throw Error("bad.shard: CRC mismatch at record 7");
    }
    Batch batch;
    batch.tensors = {torch::tensor(indices, torch::kInt64),
                     torch::full({static_cast<int64_t>(indices.size())}, static_cast<int64_t>(seed),
                                 torch::kInt64)};
    return batch;
  }
  std::string describe() const override { return "indices"; }
  mutable std::atomic<int64_t> loads{0};

 private:
  int64_t samples_;
  double sleep_ms_;
  int64_t throw_on_sample_;
};

LoaderOptions options_with(int64_t batch, int workers, int prefetch = 2, uint64_t seed = 7) {
  LoaderOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.prefetch = prefetch;
  options.seed = seed;
  return options;
}

/// Every batch of one epoch: its sample numbers and seed.
struct EpochRecord {
  std::vector<std::vector<int64_t>> samples;
  std::vector<int64_t> seeds;
  bool operator==(const EpochRecord& other) const {
    return samples == other.samples && seeds == other.seeds;
  }
};

EpochRecord run_epoch(Loader& loader, int64_t epoch) {
  EpochRecord record;
  loader.start_epoch(epoch);
  while (std::optional<Batch> batch = loader.next()) {
    EXPECT_EQ(batch->index, static_cast<int64_t>(record.samples.size()));
    EXPECT_EQ(batch->epoch, epoch);
    torch::Tensor indices = batch->tensors[0];
    record.samples.emplace_back(indices.data_ptr<int64_t>(),
                                indices.data_ptr<int64_t>() + indices.numel());
    record.seeds.push_back(batch->tensors[1][0].item<int64_t>());
    EXPECT_EQ(batch->size, indices.numel());
  }
  return record;
}

EpochRecord epoch_with(int workers, int64_t epoch, uint64_t seed = 7, int prefetch = 2,
                       bool drop_last = false) {
  LoaderOptions options = options_with(10, workers, prefetch, seed);
  options.drop_last = drop_last;
  Loader loader(std::make_shared<IndexSource>(103), options);
  return run_epoch(loader, epoch);
}

TEST(Loader, EverySampleExactlyOncePerEpoch) {
  for (int workers : {0, 1, 4}) {
    EpochRecord record = epoch_with(workers, 0);
    ASSERT_EQ(record.samples.size(), 11u) << "workers=" << workers;
    std::multiset<int64_t> seen;
    for (size_t b = 0; b < record.samples.size(); ++b) {
      EXPECT_EQ(record.samples[b].size(), b + 1 < record.samples.size() ? 10u : 3u);
      seen.insert(record.samples[b].begin(), record.samples[b].end());
    }
    ASSERT_EQ(seen.size(), 103u);
    for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(seen.count(i), 1u) << "sample " << i;
  }
}

TEST(Loader, SameBatchesWhateverTheWorkerCount) {
  EpochRecord reference = epoch_with(0, 2);
  EXPECT_EQ(epoch_with(1, 2), reference);
  EXPECT_EQ(epoch_with(4, 2), reference);
  EXPECT_EQ(epoch_with(4, 2, 7, /*prefetch=*/1), reference);
  // The per-batch seeds differ from batch to batch.
  std::set<int64_t> seeds(reference.seeds.begin(), reference.seeds.end());
  EXPECT_EQ(seeds.size(), reference.seeds.size());
}

TEST(Loader, PermutationDependsOnSeedAndEpochOnly) {
  EpochRecord first = epoch_with(2, 0);
  EXPECT_EQ(epoch_with(2, 0), first);
  EXPECT_NE(epoch_with(2, 1).samples, first.samples);
  EXPECT_NE(epoch_with(2, 0, /*seed=*/8).samples, first.samples);
  EXPECT_NE(epoch_with(2, 1).seeds, first.seeds);

  LoaderOptions options = options_with(10, 2);
  options.shuffle = false;
  Loader ordered(std::make_shared<IndexSource>(30), options);
  EpochRecord record = run_epoch(ordered, 5);
  ASSERT_EQ(record.samples.size(), 3u);
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t j = 0; j < 10; ++j) EXPECT_EQ(record.samples[b][j], b * 10 + j);
  }
  EXPECT_EQ(data::epoch_order(5, 1, 0, false), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, DropLastDropsOnlyThePartialBatch) {
  for (int workers : {0, 3}) {
    EpochRecord dropped = epoch_with(workers, 0, 7, 2, /*drop_last=*/true);
    EXPECT_EQ(dropped.samples.size(), 10u);
    std::set<int64_t> seen;
    for (const auto& batch : dropped.samples) {
      EXPECT_EQ(batch.size(), 10u);
      seen.insert(batch.begin(), batch.end());
    }
    EXPECT_EQ(seen.size(), 100u);
  }
  LoaderOptions options = options_with(10, 1);
  options.drop_last = true;
  EXPECT_EQ(Loader(std::make_shared<IndexSource>(103), options).batches_per_epoch(), 10);
  EXPECT_EQ(Loader(std::make_shared<IndexSource>(9), options).batches_per_epoch(), 0);
  options.drop_last = false;
  EXPECT_EQ(Loader(std::make_shared<IndexSource>(103), options).batches_per_epoch(), 11);
}

TEST(Loader, NextStartsEpochZeroAndEndsWithNullopt) {
  Loader loader(std::make_shared<IndexSource>(20), options_with(10, 2));
  int batches = 0;
  while (loader.next()) ++batches;
  EXPECT_EQ(batches, 2);
  EXPECT_FALSE(loader.next().has_value());
  LoaderStats stats = loader.stats();
  EXPECT_EQ(stats.batches, 2);
  EXPECT_EQ(stats.samples, 20);
  EXPECT_EQ(stats.workers, 2);
  loader.reset_stats();
  EXPECT_EQ(loader.stats().batches, 0);
}

TEST(Loader, RecordsConsumedBatchesWithTheirLoadTimesIntoTheTimeline) {
  Timeline timeline;
  LoaderOptions options = options_with(4, /*workers=*/2);
  options.timeline = &timeline;
  Loader loader(std::make_shared<IndexSource>(40, /*sleep_ms=*/20), options);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  // Let the workers load ahead, then open the window: the batch taken in it was loaded before
  // it, and still brings its own load time.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  timeline.start_measurement();
  ASSERT_TRUE(loader.next().has_value());
  TimelineTotals totals = timeline.totals();
  EXPECT_TRUE(totals.has_input);
  EXPECT_EQ(totals.input_workers, 2);
  EXPECT_EQ(totals.batches, 1);
  EXPECT_DOUBLE_EQ(totals.samples, 4);
  EXPECT_GE(totals.input_load_s, 0.020);  // one load of 20 ms (a sleep never runs short)
  EXPECT_LT(totals.input_wait_s, 0.020);  // it was ready
}

TEST(Loader, RejectsBadOptions) {
  auto source = std::make_shared<IndexSource>(10);
  EXPECT_THROW(Loader(source, options_with(0, 1)), Error);
  EXPECT_THROW(Loader(source, options_with(4, -1)), Error);
  EXPECT_THROW(Loader(nullptr, options_with(4, 1)), Error);
}

TEST(Loader, WorkerErrorIsRethrownUnchangedOnTheConsumer) {
  for (int workers : {0, 1, 4}) {
    LoaderOptions options = options_with(10, workers);
    options.shuffle = false;
    auto started = Clock::now();
    {
      Loader loader(std::make_shared<IndexSource>(100, 0, /*throw_on_sample=*/35), options);
      for (int b = 0; b < 3; ++b) ASSERT_TRUE(loader.next().has_value()) << "batch " << b;
      try {
        loader.next();
        ADD_FAILURE() << "batch 3 should have thrown (workers=" << workers << ")";
      } catch (const Error& error) {
        EXPECT_STREQ(error.what(), "bad.shard: CRC mismatch at record 7");
      }
      EXPECT_FALSE(loader.next().has_value());  // the epoch ended with the error
    }
    EXPECT_LT(seconds_since(started), 5.0);
  }
}

TEST(Loader, PrefetchIsBoundedAndDestructionMidEpochIsPrompt) {
  auto source = std::make_shared<IndexSource>(1000);
  auto loader = std::make_unique<Loader>(source, options_with(1, 2, /*prefetch=*/2));
  ASSERT_TRUE(loader->next().has_value());
  // 1 taken + workers x prefetch = 4 ready: then the workers must stop.
  auto started = Clock::now();
  while (source->loads < 5 && seconds_since(started) < 5) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(source->loads, 5);
  started = Clock::now();
  loader.reset();  // the queue is full, the workers wait for space
  EXPECT_LT(seconds_since(started), 2.0);

  // Mid-load: the destructor waits for the loads in progress (50 ms), not for the epoch.
  auto slow = std::make_shared<IndexSource>(1000, /*sleep_ms=*/50);
  loader = std::make_unique<Loader>(slow, options_with(1, 4));
  loader->start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  started = Clock::now();
  loader.reset();
  EXPECT_LT(seconds_since(started), 2.0);
  EXPECT_LE(slow->loads, 8);
}

TEST(Loader, StartEpochMidEpochAbandonsTheOldOne) {
  auto source = std::make_shared<IndexSource>(103, /*sleep_ms=*/1);
  LoaderOptions options = options_with(10, 3, 2);
  options.drop_last = false;
  Loader loader(source, options);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  ASSERT_TRUE(loader.next().has_value());
  EpochRecord second = run_epoch(loader, 1);
  EXPECT_EQ(second, epoch_with(0, 1));
}

TEST(Loader, StarvedLoaderIsInputBoundAndEnoughWorkersFixIt) {
  // Each batch takes 20 ms to load; the consumer (the "accelerator") needs 5 ms per batch.
  constexpr int kBatches = 48;
  constexpr double kComputeSeconds = 0.005;
  auto measure = [&](int workers) {
    Loader loader(std::make_shared<IndexSource>(kBatches * 4, /*sleep_ms=*/20),
                  options_with(4, workers, 2));
    loader.start_epoch(0);
    while (std::optional<Batch> batch = loader.next()) {
      std::this_thread::sleep_for(std::chrono::duration<double>(kComputeSeconds));
    }
    LoaderStats stats = loader.stats();
    EXPECT_EQ(stats.batches, kBatches);
    return input_figures(totals_of(stats, kComputeSeconds), stats.elapsed_seconds);
  };
  InputFigures starved = measure(1);
  // One worker: about 15 of every 20 ms waiting (75%).
  EXPECT_GT(starved.stall_share, 50.0);
  EXPECT_TRUE(starved.input_bound);
  ASSERT_TRUE(starved.accelerator_utilization.has_value());
  EXPECT_LT(*starved.accelerator_utilization, 50.0);
  EXPECT_LT(starved.loader_samples_per_s, 4 / 0.020 * 1.1);  // a sleep never runs short

  InputFigures fed = measure(8);
  // Eight workers deliver a batch every 2.5 ms: only the first batch is waited for.
  EXPECT_LT(fed.stall_share, 25.0);
  EXPECT_FALSE(fed.input_bound);
  EXPECT_GT(*fed.accelerator_utilization, 60.0);
}

TEST(TensorSource, GathersRowsAndChecksShapes) {
  torch::Tensor x = torch::arange(12, torch::kFloat32).reshape({4, 3});
  torch::Tensor y = torch::arange(4, torch::kInt64);
  data::TensorSource source({x, y}, "four rows");
  Batch batch = source.load({3, 1}, 0);
  EXPECT_TRUE(torch::equal(batch.tensors[0], x.index_select(0, torch::tensor({3, 1}))));
  EXPECT_TRUE(torch::equal(batch.tensors[1], torch::tensor({3, 1}, torch::kInt64)));
  EXPECT_EQ(batch.size, 2);
  EXPECT_THROW(source.load({4}, 0), Error);
  EXPECT_THROW(data::TensorSource({x, torch::zeros({5})}, "bad"), Error);
}

// ---- shards ----

/// A dataset with many dtypes and shapes, as a TensorSource, and its tensors.
struct MixedData {
  std::vector<torch::Tensor> tensors;
  std::shared_ptr<data::TensorSource> source;
  explicit MixedData(int64_t n) {
    torch::manual_seed(3);
    tensors = {torch::randn({n, 3, 4}),
               torch::randn({n, 2}, torch::kFloat64),
               torch::randint(-1000000, 1000000, {n}, torch::kInt64),
               torch::randint(0, 256, {n, 5}, torch::kUInt8),
               torch::randint(-128, 128, {n, 2}, torch::kInt8),
               torch::randint(-30000, 30000, {n, 2}, torch::kInt16),
               torch::randint(-100000, 100000, {n, 1}, torch::kInt32),
               torch::randn({n, 2}).to(torch::kBFloat16),
               torch::randn({n, 2}).to(torch::kFloat16),
               torch::randint(0, 2, {n, 3}).to(torch::kBool)};
    source = std::make_shared<data::TensorSource>(tensors, "mixed dtypes");
  }
};

std::string write_dataset(int shards, MixedData** keep = nullptr) {
  static MixedData data(40);
  std::string dir = testing::temp_dir() + "/ds";
  data::TensorSource source(data.tensors, "mixed dtypes");
  data::ShardWriteOptions options;
  options.chunk = 7;
  options.sync = false;
  data::ShardSummary summary = data::write_shards(source, dir, shards, options);
  EXPECT_EQ(summary.samples, 40);
  EXPECT_EQ(summary.shards, shards);
  if (keep) *keep = &data;
  return dir;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

uint64_t read_u64(const std::string& path, int64_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  uint64_t value = 0;
  in.read(reinterpret_cast<char*>(&value), 8);
  return value;
}

void flip_byte(const std::string& path, int64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(offset);
  char c = 0;
  file.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  file.seekp(offset);
  file.write(&c, 1);
}

TEST(Shards, RoundTripIsBitIdenticalForEveryDtype) {
  MixedData* data = nullptr;
  std::string dir = write_dataset(3, &data);
  auto source = std::make_shared<data::ShardSource>(dir);
  EXPECT_EQ(source->size(), 40);
  EXPECT_EQ(source->shards(), 3);
  EXPECT_NE(source->describe().find("mixed dtypes"), std::string::npos);
  std::vector<int64_t> order = data::epoch_order(40, 11, 0, true);
  Batch batch = source->load(order, 0);
  torch::Tensor picked = torch::tensor(order, torch::kInt64);
  ASSERT_EQ(batch.tensors.size(), data->tensors.size());
  for (size_t t = 0; t < batch.tensors.size(); ++t) {
    torch::Tensor expected = data->tensors[t].index_select(0, picked);
    EXPECT_EQ(batch.tensors[t].scalar_type(), expected.scalar_type()) << "tensor " << t;
    EXPECT_EQ(batch.tensors[t].sizes(), expected.sizes()) << "tensor " << t;
    EXPECT_EQ(std::memcmp(batch.tensors[t].data_ptr(), expected.data_ptr(), expected.nbytes()), 0)
        << "tensor " << t;
  }
  // Through a loader with several threads: every sample once.
  Loader loader(source, options_with(6, 3));
  std::set<int64_t> seen;
  while (std::optional<Batch> b = loader.next()) {
    torch::Tensor ids = b->tensors[2];
    for (int64_t j = 0; j < ids.size(0); ++j) seen.insert(ids[j].item<int64_t>());
  }
  EXPECT_EQ(seen.size(), 36u);  // 6 batches of 6, drop_last
  source->drop_page_cache();    // best effort; must not disturb later reads
  EXPECT_EQ(source->load({5}, 0).tensors[2][0].item<int64_t>(),
            data->tensors[2][5].item<int64_t>());
}

TEST(Shards, MissingOrCorruptManifestIsOneClearError) {
  std::string empty = testing::temp_dir();
  std::string message = error_of([&] { data::ShardSource source(empty); });
  EXPECT_NE(message.find(empty + "/manifest.txt: missing"), std::string::npos) << message;

  std::string dir = write_dataset(3);
  std::string manifest = dir + "/manifest.txt";
  flip_byte(manifest, 20);
  message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("manifest.txt: CRC mismatch"), std::string::npos) << message;

  dir = write_dataset(3);
  manifest = dir + "/manifest.txt";
  ASSERT_EQ(::truncate(manifest.c_str(), static_cast<off_t>(fs::file_size(manifest) / 2)), 0);
  message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("manifest.txt: truncated or corrupt"), std::string::npos) << message;
}

TEST(Shards, MissingTruncatedOrCorruptIndexIsOneClearError) {
  std::string dir = write_dataset(3);
  std::string index = dir + "/index.bin";
  ASSERT_EQ(::truncate(index.c_str(), 100), 0);
  std::string message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("index.bin: truncated: the manifest says 976 bytes, the file has 100"),
            std::string::npos)
      << message;

  dir = write_dataset(3);
  flip_byte(dir + "/index.bin", 30);
  message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("index.bin: CRC mismatch"), std::string::npos) << message;

  dir = write_dataset(3);
  fs::remove(dir + "/index.bin");
  message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("index.bin: missing"), std::string::npos) << message;
}

TEST(Shards, MissingOrTruncatedShardIsOneClearError) {
  std::string dir = write_dataset(3);
  fs::remove(dir + "/shard-00002.dls");
  std::string message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("shard-00002.dls: missing"), std::string::npos) << message;

  dir = write_dataset(3);
  std::string shard = dir + "/shard-00001.dls";
  auto size = static_cast<off_t>(fs::file_size(shard));
  ASSERT_EQ(::truncate(shard.c_str(), size - 10), 0);
  message = error_of([&] { data::ShardSource source(dir); });
  EXPECT_NE(message.find("shard-00001.dls: truncated: the manifest says " + std::to_string(size) +
                         " bytes, the file has " + std::to_string(size - 10)),
            std::string::npos)
      << message;
}

TEST(Shards, CorruptRecordFailsItsCrcOnReadAndThroughTheLoader) {
  std::string dir = write_dataset(3);
  // Sample 2 is record 2 of shard 0: spoil its last byte (tensor data).
  int64_t offset = static_cast<int64_t>(read_u64(dir + "/index.bin", 16 + 2 * 24 + 8));
  int64_t length = static_cast<int64_t>(read_u64(dir + "/index.bin", 16 + 2 * 24 + 16));
  flip_byte(dir + "/shard-00000.dls", offset + length - 1);
  auto source = std::make_shared<data::ShardSource>(dir);  // opening does not read records
  EXPECT_NO_THROW(source->load({0, 1, 3}, 0));
  std::string message = error_of([&] { source->load({1, 2}, 0); });
  EXPECT_NE(message.find(dir + "/shard-00000.dls: CRC mismatch at record 2: stored "),
            std::string::npos)
      << message;

  LoaderOptions options = options_with(4, 2);
  options.shuffle = false;
  Loader loader(source, options);
  std::string through_loader = error_of([&] {
    while (loader.next()) {
    }
  });
  EXPECT_EQ(through_loader, message);
}

TEST(Shards, DecodeCostAndReadLatencyAddTime) {
  EXPECT_GT(data::decode_iterations_per_us(), 1.0);
  std::string dir = write_dataset(3);
  data::ShardSource plain(dir);
  data::ShardSource slow(dir, data::DecodeCost{/*decode_us=*/2000, /*read_latency_us=*/5000});
  std::vector<int64_t> four = {0, 10, 20, 30};
  Batch a = plain.load(four, 0);
  auto started = Clock::now();
  Batch b = slow.load(four, 0);
  // 4 x (5 ms sleep + 2 ms work): at least the sleeps; wide margin on the work.
  EXPECT_GT(seconds_since(started), 0.020 + 0.004);
  for (size_t t = 0; t < a.tensors.size(); ++t) {
    EXPECT_TRUE(torch::equal(a.tensors[t], b.tensors[t]));
  }
}

TEST(Shards, WriterRejectsBadArguments) {
  data::TensorSource source({torch::zeros({4, 2})}, "four");
  std::string dir = testing::temp_dir();
  EXPECT_THROW(data::write_shards(source, dir, 0), Error);
  EXPECT_THROW(data::write_shards(source, dir, 5), Error);
  data::TensorSource complex({torch::zeros({4, 2}, torch::kComplexFloat)}, "complex");
  EXPECT_THROW(data::write_shards(complex, dir, 1), Error);
}

// ---- io/storage ----

TEST(Storage, RunsChecksAndRemovesItsDataset) {
  std::string root = testing::temp_dir();
  testing::ScopedEnv env("DLBENCH_IO_DIR", root.c_str());
  Result result = testing::run_problem(
      "io/storage samples=64 batch=8 sample_bytes=1000 shards=2 workers=2 compute_ms=1 "
      "au_threshold=0");
  EXPECT_EQ(result.status, Status::kPassed) << result.reason;
  EXPECT_TRUE(fs::is_empty(root)) << "the dataset directory was left behind";
  ASSERT_TRUE(result.metrics.count("throughput"));
  EXPECT_GT(result.metrics["throughput"].value, 0);

  Result too_small = testing::run_problem("io/storage samples=4 batch=8");
  EXPECT_EQ(too_small.status, Status::kFailed);
  EXPECT_TRUE(fs::is_empty(root));
}

}  // namespace
}  // namespace dlbench
