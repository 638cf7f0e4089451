// How figures are measured and how far to trust them: samples timed in groups above a floor,
// bounded stored samples, the conditions of a measurement (contention), ceiling sanity, the
// composite's noise and the progress heartbeat.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "analysis/ceiling_cache.h"
#include "analysis/ceilings.h"
#include "analysis/derive.h"
#include "core/registry.h"
#include "core/stats.h"
#include "core/system_info.h"
#include "harness/contention.h"
#include "harness/progress.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

Result run(const std::string& text, RunOptions options = testing::fast_options()) {
  return run_in_process(Registry::instance().resolve(Problem::parse(text)), options);
}

TEST(Samples, EvenlyKeptKeepsTheEndsAndEvenSpacing) {
  std::vector<double> all;
  for (int i = 0; i < 101; ++i) all.push_back(i);
  EXPECT_EQ(evenly_kept(all, 200), all);
  std::vector<double> five = evenly_kept(all, 5);
  EXPECT_EQ(five, (std::vector<double>{0, 25, 50, 75, 100}));
  EXPECT_EQ(evenly_kept(all, 1), std::vector<double>{0});
  EXPECT_TRUE(evenly_kept(all, 0).empty());
  EXPECT_EQ(evenly_kept(all, 2), (std::vector<double>{0, 100}));
}

TEST(Samples, ShortStepsAreTimedInGroupsAboveTheFloor) {
  RunOptions o = testing::fast_options();
  o.min_time = 0.05;
  o.min_steps = 10;
  Result r = run("test/sleep ms=0", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  ASSERT_TRUE(r.run.contains("sampling")) << r.run.dump();
  const nlohmann::json& sampling = r.run["sampling"];
  double floor = sampling["sample_floor_s"].get<double>();
  double overhead = sampling["timer_overhead_s"].get<double>();
  // The floor is the stated rule: at least kMinSampleSeconds and 100 x the timer's cost.
  EXPECT_GE(floor, kMinSampleSeconds);
  EXPECT_GE(floor, kSampleFloorOverheads * overhead * (1 - 1e-9));
  EXPECT_GT(overhead, 0);
  // A sleep of 0 ms is far shorter than 50 us, so it is timed in groups.
  int64_t per_sample = sampling["steps_per_sample"].get<int64_t>();
  EXPECT_GT(per_sample, 1);
  const Metric& step = r.metrics.at("step_time");
  ASSERT_TRUE(step.stats);
  EXPECT_EQ(step.stats->count, sampling["samples"].get<size_t>());
  EXPECT_EQ(r.run["measured_steps"].get<int64_t>(),
            per_sample * static_cast<int64_t>(step.stats->count));
  EXPECT_LT(step.value, floor);  // a per-step figure, not the group's time
}

TEST(Samples, StoredSamplesAreCappedWhileStatisticsCoverEverySample) {
  RunOptions o = testing::fast_options();
  // 50 us samples for 0.8 s: about 16,000 of them, more than are stored.
  o.min_time = 0.8;
  Result r = run("test/sleep ms=0", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  const Metric& step = r.metrics.at("step_time");
  ASSERT_TRUE(step.stats);
  EXPECT_GT(step.stats->count, kMaxStoredSamples);
  EXPECT_EQ(step.samples.size(), kMaxStoredSamples);
  nlohmann::json saved = to_json(r);
  EXPECT_EQ(saved["metrics"]["step_time"]["samples"].size(), kMaxStoredSamples);
  EXPECT_EQ(saved["run"]["sampling"]["samples_stored_max"].get<size_t>(), kMaxStoredSamples);
  EXPECT_LT(saved.dump().size(), 2u << 20);  // a record of a tiny step stays small
}

TEST(Samples, StepsAboveTheFloorAreTimedOneByOne) {
  RunOptions o = testing::fast_options();
  o.min_steps = 4;
  Result r = run("test/sleep ms=2", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.run["sampling"]["steps_per_sample"].get<int64_t>(), 1);
  EXPECT_EQ(r.metrics.at("step_time").samples.size(), 4u);
}

TEST(Samples, ADryRunTimesOneStepAlone) {
  RunOptions o = testing::fast_options();
  o.dry_run = true;
  Result r = run("test/sleep ms=0", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.metrics.at("step_time").samples.size(), 1u);
  EXPECT_FALSE(r.run.contains("sampling"));
}

TEST(CompositeNoise, EachPartWeighsByItsShareOfTheTime) {
  // A 2 us relu that is 0.001% of the step and 2403.9% noisy moves the sum by 0.024 points.
  double noise = share_weighted_noise({0.99999, 0.00001}, {1.0, 2403.9});
  EXPECT_NEAR(noise, 0.99999 * 1.0 + 0.00001 * 2403.9, 1e-12);
  EXPECT_LT(noise, 1.03);
  EXPECT_DOUBLE_EQ(share_weighted_noise({0.5, 0.5}, {2, 4}), 3);
  EXPECT_DOUBLE_EQ(share_weighted_noise({}, {}), 0);
}

Conditions conditions(double wall, double others, double steal, int usable, int cores,
                      int ranks = 1) {
  Conditions c;
  c.wall_s = wall;
  c.others_cpu_s = others;
  c.steal_s = steal;
  c.usable_cpus = usable;
  c.problem_cores = cores;
  c.local_ranks = ranks;
  c.readable = true;
  judge_conditions(c);
  return c;
}

TEST(Contention, OthersCountOnlyBeyondTheCoresTheRunLeavesIdle) {
  // 2 cores, a 2-thread problem, others took 0.9 s of CPU in 3 s: 0.3 cores > 10% of 2.
  Conditions busy = conditions(3, 0.9, 0, 2, 2);
  EXPECT_TRUE(busy.judged);
  EXPECT_TRUE(busy.contended);
  EXPECT_NEAR(busy.others_cores(), 0.3, 1e-12);
  EXPECT_NE(busy.reason.find("0.30 core(s)"), std::string::npos) << busy.reason;
  // 0.15 cores: under 10% of 2.
  EXPECT_FALSE(conditions(3, 0.45, 0, 2, 2).contended);
  // A 1-thread problem on 2 cores: one idle core absorbs a whole busy process.
  EXPECT_FALSE(conditions(3, 3.0, 0, 2, 1).contended);
  EXPECT_TRUE(conditions(3, 3.6, 0, 2, 1).contended);  // 1.2 cores: 0.2 spill onto its core
  // Sibling ranks of the run are not contention: 2 ranks x 1 thread on 2 cores.
  Conditions ranks = conditions(3, 3.0, 0, 2, 1, 2);
  EXPECT_NEAR(ranks.others_cores(), 0, 1e-12);
  EXPECT_FALSE(ranks.contended);
}

TEST(Contention, StealAboveFivePercentOfTheCoresIsContention) {
  Conditions stolen = conditions(2, 0, 0.3, 2, 2);  // 0.15 cores > 5% of 2
  EXPECT_TRUE(stolen.contended);
  EXPECT_NE(stolen.reason.find("steal"), std::string::npos) << stolen.reason;
  EXPECT_FALSE(conditions(2, 0, 0.1, 2, 2).contended);  // 0.05 cores
}

TEST(Contention, ShortOrUnreadableMeasurementsAreNotJudged) {
  Conditions short_one = conditions(0.2, 0.2, 0.2, 2, 2);
  EXPECT_FALSE(short_one.judged);
  EXPECT_FALSE(short_one.contended);
  Conditions unreadable;
  unreadable.wall_s = 5;
  unreadable.others_cpu_s = 10;
  judge_conditions(unreadable);
  EXPECT_FALSE(unreadable.judged);
  EXPECT_FALSE(unreadable.contended);
  nlohmann::json j = conditions(3, 0.9, 0, 2, 2).to_json();
  for (const char* key :
       {"wall_s", "own_cpu_s", "others_cpu_s", "steal_s", "others_cores", "steal_cores",
        "load_average_start", "load_average_end", "usable_cpus", "problem_cores", "local_ranks",
        "judged", "contended", "reason", "thresholds"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

/// Keeps every usable CPU busy in another process until destroyed.
class BusyProcess {
 public:
  BusyProcess() {
    pid_ = fork();
    if (pid_ == 0) {
      int cpus = std::max(1, cpu_info().affinity_cpus);
      std::vector<std::thread> spinners;
      for (int i = 0; i < cpus; ++i) {
        spinners.emplace_back([] {
          volatile uint64_t x = 0;
          auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
          while (std::chrono::steady_clock::now() < end) x = x + 1;
        });
      }
      for (auto& t : spinners) t.join();
      _exit(0);
    }
  }
  ~BusyProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

TEST(Contention, AProcessSpinningOnEveryCpuIsSeen) {
  if (!read_machine_cpu_times().valid) GTEST_SKIP() << "/proc/stat is not readable here";
  int usable = std::max(1, cpu_info().affinity_cpus);
  ConditionsMonitor monitor(usable, 1);
  {
    BusyProcess busy;
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  }
  Conditions c = monitor.finish();
  EXPECT_TRUE(c.judged);
  EXPECT_GT(c.others_cores(), 0.5) << c.to_json().dump();
  EXPECT_TRUE(c.contended) << c.to_json().dump();
  EXPECT_LT(c.own_cpu_s, 0.5);  // this process slept
}

TEST(Contention, ARunUnderABusyMachineIsFlaggedAndSaysWhy) {
  if (!read_machine_cpu_times().valid) GTEST_SKIP() << "/proc/stat is not readable here";
  RunOptions o = testing::fast_options();
  o.min_time = 1.0;
  BusyProcess busy;
  Result r = run("test/sleep ms=5 threads=1", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  ASSERT_TRUE(r.run.contains("conditions"));
  // The sleeping problem used no CPU; the spinner kept every CPU busy, so even the cores the
  // problem leaves idle cannot absorb it (1 thread on N CPUs: N - 1 spare, N busy).
  EXPECT_TRUE(r.contended) << r.run["conditions"].dump();
  bool noted = false;
  for (const auto& note : r.notes) noted |= note.rfind("contended: ", 0) == 0;
  EXPECT_TRUE(noted);
  EXPECT_TRUE(to_json(r)["contended"].get<bool>());
}

TEST(Heartbeat, SilentForFiveSecondsThenEveryTwo) {
  double now = 0;
  std::vector<std::string> lines;
  Heartbeat beat([&](const std::string& line) { lines.push_back(line); }, [&] { return now; });
  beat.update("warm-up, step 1", false);
  now = 4.9;
  beat.poll();
  EXPECT_TRUE(lines.empty());
  now = 5.0;
  beat.update("repetition 1/3, step 10; about 6 s left", false);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("repetition 1/3"), std::string::npos) << lines[0];
  now = 6.5;
  beat.poll();
  EXPECT_EQ(lines.size(), 1u);
  now = 7.0;
  beat.poll();
  EXPECT_EQ(lines.size(), 2u);
  // Events (a quality run's evaluations) are shown at once, whenever they come.
  now = 1.0;
  Heartbeat early([&](const std::string& line) { lines.push_back(line); }, [&] { return now; });
  early.update("run 1, epoch 1.00: top1 91.2% (target 98%)", true);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("epoch 1.00"), std::string::npos);
}

TEST(Heartbeat, ALongStepStillBeatsFromTheState) {
  double now = 0;
  std::vector<std::string> lines;
  Heartbeat beat([&](const std::string& line) { lines.push_back(line); }, [&] { return now; });
  beat.update("setting up", false);
  for (int tick = 0; tick <= 96; ++tick) {  // 0 to 12 s in exact steps of 1/8 s
    now = tick * 0.125;
    beat.poll();
  }
  // 5, 7, 9, 11 s.
  EXPECT_EQ(lines.size(), 4u);
  for (const auto& line : lines) EXPECT_NE(line.find("setting up"), std::string::npos) << line;
}

TEST(LastLevelCache, ReadsTheLargestLevelOfDataOrUnifiedCaches) {
  std::string dir = testing::temp_dir() + "/cache";
  auto level = [&](int index, const char* lvl, const char* type, const char* size) {
    std::string d = dir + "/index" + std::to_string(index);
    std::filesystem::create_directories(d);
    testing::write_file(d + "/level", std::string(lvl) + "\n");
    testing::write_file(d + "/type", std::string(type) + "\n");
    testing::write_file(d + "/size", std::string(size) + "\n");
  };
  level(0, "1", "Data", "32K");
  level(1, "1", "Instruction", "32K");
  level(2, "2", "Unified", "1024K");
  level(3, "3", "Unified", "32768K");
  EXPECT_DOUBLE_EQ(read_last_level_cache_bytes(dir), 32.0 * 1024 * 1024);
  level(4, "4", "Instruction", "64M");  // not a data cache
  EXPECT_DOUBLE_EQ(read_last_level_cache_bytes(dir), 32.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(read_last_level_cache_bytes(dir + "/missing"), 0);
}

/// Plants measured ceilings far below what any machine does, in a private cache directory.
class PlantedCeilings {
 public:
  explicit PlantedCeilings(bool provisional = false)
      : dir_(testing::temp_dir()), env_("DLBENCH_CACHE_DIR", dir_.c_str()) {
    nlohmann::json planted = {
        {"device", "cpu"},
        {"threads", 1},
        {"provisional", provisional},
        {"compute", {{"fp32", {{"flops", 1e3}, {"source", "measured"}, {"basis", "planted"}}}}},
        {"bandwidth", {{"bytes_per_s", 1e3}, {"source", "measured"}, {"basis", "planted"}}}};
    testing::write_file(measured_ceilings_path("cpu", 1), planted.dump());
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  testing::ScopedEnv env_;
};

TEST(CeilingSanity, AFigureAboveAMeasuredCeilingMarksItStale) {
  PlantedCeilings planted;
  Result r = run("test/sleep ms=1 flops=1e9 bytes=1e15 threads=1");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  ASSERT_TRUE(r.compute_ceiling);
  EXPECT_EQ(r.compute_ceiling->source, "measured");
  ASSERT_TRUE(r.run.contains("stale_ceilings")) << r.run.dump();
  bool compute = false, bandwidth = false;
  for (const auto& stale : r.run["stale_ceilings"]) {
    compute |= stale["ceiling"] == "compute" && stale["dtype"] == "fp32";
    bandwidth |= stale["ceiling"] == "bandwidth";
    EXPECT_EQ(stale["device"], "cpu");
    EXPECT_EQ(stale["threads"], 1);
  }
  EXPECT_TRUE(compute && bandwidth) << r.run["stale_ceilings"].dump();
  EXPECT_EQ(r.run["ceiling_sanity"]["compute"]["verdict"], "above_measured_ceiling");
  size_t noted = 0;
  for (const auto& note : r.notes) noted += note.rfind("ceiling stale: ", 0) == 0;
  EXPECT_EQ(noted, 2u);
}

TEST(CeilingSanity, AStreamArrayUnderFourTimesTheLastLevelCacheIsInCache) {
  double llc = cpu_info().last_level_cache_bytes;
  if (!(llc > 0)) GTEST_SKIP() << "this machine does not report its cache sizes";
  PlantedCeilings planted;
  // 1024 fp64 elements: 8 KiB per array, in any last-level cache.
  Result r = run("micro/stream n=1024 kernel=triad threads=1");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.run["ceiling_sanity"]["bandwidth"]["verdict"], "in_cache") << r.run.dump();
  bool noted = false;
  for (const auto& note : r.notes) noted |= note.rfind("in cache: ", 0) == 0;
  EXPECT_TRUE(noted);
  // The cache's bandwidth beats memory's: that does not make the memory ceiling stale.
  for (const auto& stale : r.run.value("stale_ceilings", nlohmann::json::array())) {
    EXPECT_NE(stale["ceiling"], "bandwidth") << stale.dump();
  }
}

TEST(CeilingSanity, AModelsOperandsAboveTheBandwidthCeilingAreInCacheNotStale) {
  // A model's bytes are its layers' operands: beating a (planted, absurdly low) memory ceiling
  // says they stayed in cache, not that the ceiling is wrong; its compute ceiling is still judged.
  PlantedCeilings planted;
  Result r = run("model/lenet size=tiny mode=infer threads=1");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  ASSERT_GT(r.work.bytes, 0);
  EXPECT_EQ(r.run["ceiling_sanity"]["bandwidth"]["verdict"], "operands_in_cache") << r.run.dump();
  bool noted = false;
  for (const auto& note : r.notes) noted |= note.rfind("in cache: the counted bytes", 0) == 0;
  EXPECT_TRUE(noted);
  bool compute_stale = false;
  for (const auto& stale : r.run.value("stale_ceilings", nlohmann::json::array())) {
    EXPECT_NE(stale["ceiling"], "bandwidth") << stale.dump();
    compute_stale |= stale["ceiling"] == "compute";
  }
  EXPECT_TRUE(compute_stale) << r.run.dump();
}

TEST(CeilingSanity, AStepWhoseBytesFitInCacheIsInCacheNotStale) {
  double llc = cpu_info().last_level_cache_bytes;
  if (!(llc > 0)) GTEST_SKIP() << "this machine does not report its cache sizes";
  PlantedCeilings planted;
  // A 32^3 GEMM's 12 KiB fit in any cache: beating memory's ceiling proves nothing about it.
  Result r = run("micro/gemm m=32 n=32 k=32 threads=1");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.run["ceiling_sanity"]["bandwidth"]["verdict"], "in_cache") << r.run.dump();
  bool bandwidth_stale = false, compute_stale = false;
  for (const auto& stale : r.run.value("stale_ceilings", nlohmann::json::array())) {
    bandwidth_stale |= stale["ceiling"] == "bandwidth";
    compute_stale |= stale["ceiling"] == "compute";
  }
  EXPECT_FALSE(bandwidth_stale) << r.run.dump();
  EXPECT_TRUE(compute_stale) << r.run.dump();  // FLOPs do not come from a cache
}

TEST(CeilingSanity, HotEmbeddingRowsAboveTheBandwidthCeilingAreInCacheNotStale) {
  // Skewed lookups read their hot rows from cache, faster than memory's ceiling.
  PlantedCeilings planted;
  Result r = run("micro/embedding rows=1000 dim=16 bags=64 bag_size=4 threads=1");
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  EXPECT_EQ(r.run["ceiling_sanity"]["bandwidth"]["verdict"], "operands_in_cache") << r.run.dump();
  for (const auto& stale : r.run.value("stale_ceilings", nlohmann::json::array())) {
    EXPECT_NE(stale["ceiling"], "bandwidth") << stale.dump();
  }
}

TEST(CeilingSanity, StaleCeilingsAreMarkedInTheCacheAndNotUsedAgain) {
  PlantedCeilings planted;
  Result r = run("test/sleep ms=1 flops=1e9 bytes=1e15 threads=1");
  ASSERT_TRUE(r.run.contains("stale_ceilings")) << r.run.dump();
  ASSERT_TRUE(measured_compute_ceiling("cpu", "fp32", 1));
  EXPECT_FALSE(measured_ceilings_need_measuring(load_measured_ceilings("cpu", 1), false));
  EXPECT_EQ(mark_measured_ceilings_stale(r.run["stale_ceilings"], "beaten in a test"), 2);
  EXPECT_EQ(mark_measured_ceilings_stale(r.run["stale_ceilings"], "again"), 0);  // once
  nlohmann::json cache = load_measured_ceilings("cpu", 1);
  ASSERT_FALSE(cache.is_null());  // still a valid cache
  EXPECT_EQ(cache["compute"]["fp32"]["stale"], "beaten in a test");
  EXPECT_EQ(cache["bandwidth"]["stale"], "beaten in a test");
  EXPECT_FALSE(measured_compute_ceiling("cpu", "fp32", 1));
  EXPECT_FALSE(measured_bandwidth_ceiling("cpu", 1));
  EXPECT_TRUE(measured_ceilings_need_measuring(cache, false));
  // The next result falls back to the theoretical ceiling.
  Result again = run("test/sleep ms=1 flops=1e9 bytes=1e15 threads=1");
  if (again.compute_ceiling) {
    EXPECT_EQ(again.compute_ceiling->source, "theoretical");
  }
}

TEST(CeilingSanity, RunMarksTheCeilingsItsResultsBeat) {
  PlantedCeilings planted;
  testing::ScopedEnv no_peak("DLBENCH_NO_PEAK", "1");
  auto c = testing::dlbench(
      "run 'test/sleep ms=1 flops=1e9 bytes=1e15 threads=1' --min-time 0 --repeats 1 -o " +
      planted.dir() + "/r.json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("marked stale"), std::string::npos) << c.err;
  nlohmann::json cache = load_measured_ceilings("cpu", 1);
  ASSERT_FALSE(cache.is_null());
  EXPECT_TRUE(cache["compute"]["fp32"].contains("stale")) << cache.dump();
}

TEST(CeilingSanity, QuickCeilingsAreProvisional) {
  PlantedCeilings planted(/*provisional=*/true);
  std::optional<Ceiling> compute = measured_compute_ceiling("cpu", "fp32", 1);
  ASSERT_TRUE(compute);
  EXPECT_NE(compute->basis.find("[provisional"), std::string::npos) << compute->basis;
  nlohmann::json cache = load_measured_ceilings("cpu", 1);
  EXPECT_TRUE(measured_ceilings_need_measuring(cache, /*full=*/true));
  EXPECT_FALSE(measured_ceilings_need_measuring(cache, /*full=*/false));
  Result r = run("test/sleep ms=1 flops=1e9 bytes=1e15 threads=1");
  bool noted = false;
  for (const auto& note : r.notes) noted |= note.rfind("provisional ceiling: ", 0) == 0;
  EXPECT_TRUE(noted);
}

}  // namespace
}  // namespace dlbench
