// The runner: run rules, timing against a known step time, status mapping.
#include <gtest/gtest.h>

#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

Result run(const std::string& text, RunOptions options = testing::fast_options()) {
  return run_in_process(Registry::instance().resolve(Problem::parse(text)), options);
}

TEST(Runner, MeasuresAKnownStepTime) {
  RunOptions o = testing::fast_options();
  o.min_steps = 5;
  o.repeats = 2;
  Result r = run("test/sleep ms=5", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  const Metric& step = r.metrics.at("step_time");
  ASSERT_TRUE(step.stats);
  EXPECT_EQ(step.stats->count, 10u);  // min_steps x repeats
  EXPECT_EQ(step.samples.size(), 10u);
  EXPECT_GE(step.value, 0.005);  // a sleep never ends early
  EXPECT_LT(step.value, 0.5);
  EXPECT_EQ(step.unit, "s");
  // throughput = samples per step / median step time
  EXPECT_DOUBLE_EQ(r.metrics.at("throughput").value, 1.0 / step.value);
  EXPECT_EQ(r.metrics.at("throughput").unit, "naps/s");
  EXPECT_EQ(r.run.at("measured_steps"), 10);
  EXPECT_EQ(r.run.at("repeat_medians_s").size(), 2u);
}

TEST(Runner, ProbesAreTimedUnderTheSameRulesAndReportedBesideTheStep) {
  RunOptions o = testing::fast_options();
  o.min_steps = 4;
  o.repeats = 2;
  Result r = run("test/sleep ms=10 probe_ms=5", o);
  ASSERT_EQ(r.status, Status::kPassed) << r.reason;
  const Metric& nap = r.metrics.at("nap_time");
  ASSERT_TRUE(nap.stats);
  EXPECT_EQ(nap.samples.size(), 8u);  // min_steps x repeats, like the step
  EXPECT_GE(nap.value, 0.005);
  EXPECT_GE(nap.stats->p99, nap.stats->p50);
  // 2 naps per call; share = probe median / step median.
  EXPECT_DOUBLE_EQ(r.metrics.at("nap_throughput").value, 2.0 / nap.value);
  EXPECT_EQ(r.metrics.at("nap_throughput").unit, "naps/s");
  EXPECT_DOUBLE_EQ(r.metrics.at("nap_share").value,
                   100.0 * nap.value / r.metrics.at("step_time").value);
  EXPECT_GT(r.metrics.at("nap_share").value, 20);
  EXPECT_LT(r.metrics.at("nap_share").value, 80);
  ASSERT_EQ(r.run.at("probes").size(), 1u);
  EXPECT_EQ(r.run.at("probes")[0].at("name"), "nap");
  EXPECT_EQ(r.run.at("probes")[0].at("measured_calls"), 8);
  // No probe, no probe metrics.
  Result plain = run("test/sleep ms=1", o);
  EXPECT_EQ(plain.metrics.count("nap_time"), 0u);
}

TEST(Runner, MinTimeExtendsMeasurement) {
  RunOptions o = testing::fast_options();
  o.min_steps = 1;
  o.min_time = 0.05;
  Result r = run("test/sleep ms=5", o);
  EXPECT_GE(r.run.at("measured_steps").get<int>(), 5);  // 50 ms of 5 ms steps, at most 10
}

TEST(Runner, WarmupCountsAndTime) {
  RunOptions o = testing::fast_options();
  o.warmup_steps = 4;
  Result r = run("test/sleep ms=1", o);
  EXPECT_GE(r.run.at("warmup_steps_done").get<int>(), 4);
}

TEST(Runner, DryRunTakesOneStep) {
  RunOptions o = testing::fast_options();
  o.dry_run = true;
  Result r = run("test/sleep ms=1", o);
  EXPECT_EQ(r.status, Status::kPassed);
  EXPECT_EQ(r.run.at("measured_steps"), 1);
  EXPECT_EQ(r.run.at("warmup_steps_done"), 0);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_EQ(r.notes[0].rfind("dry run", 0), 0u);
}

TEST(Runner, ExceptionsBecomeFailedResults) {
  Result r = run("test/fault fault=throw");
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_EQ(r.reason, "injected failure");

  Result oom = run("test/fault fault=bad_alloc when=setup");
  EXPECT_EQ(oom.status, Status::kFailed);
  EXPECT_NE(oom.reason.find("out of memory"), std::string::npos);
}

TEST(Runner, UnavailableDeviceIsSkipped) {
  if (cuda_available()) GTEST_SKIP() << "CUDA is available here";
  Result r = run("micro/gemm m=8 n=8 k=8 device=cuda");
  EXPECT_EQ(r.status, Status::kSkipped);
  EXPECT_NE(r.reason.find("CUDA"), std::string::npos);
}

TEST(Runner, NoisyResultsAreMarked) {
  RunOptions o = testing::fast_options();
  o.cv_bound = 1e-9;  // any real timing is noisier than this
  o.repeats = 2;
  o.min_steps = 5;
  Result r = run("test/sleep ms=1", o);
  EXPECT_TRUE(r.noisy);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes.back().find("noisy"), std::string::npos);
}

TEST(Runner, NoiseIsTheCvOfRepetitionMedians) {
  RunOptions o = testing::fast_options();
  o.repeats = 3;
  Result r = run("test/sleep ms=2", o);
  std::vector<double> medians = r.run.at("repeat_medians_s").get<std::vector<double>>();
  ASSERT_EQ(medians.size(), 3u);
  EXPECT_DOUBLE_EQ(r.metrics.at("noise").value, 100 * summarize(medians).cv);
  EXPECT_EQ(r.run.at("noise_basis"), "cv of repetition medians");

  o.repeats = 1;
  Result single = run("test/sleep ms=2", o);
  EXPECT_DOUBLE_EQ(single.metrics.at("noise").value,
                   100 * single.metrics.at("step_time").stats->cv);
  EXPECT_EQ(single.run.at("noise_basis"), "cv of step times");
}

TEST(Runner, RecordsThreadsAndMemory) {
  Result r = run("test/sleep ms=1 threads=1");
  EXPECT_EQ(r.run.at("threads_effective"), 1);
  EXPECT_GT(r.metrics.at("host_peak_rss").value, 1e6);
  EXPECT_EQ(r.metrics.at("host_peak_rss").unit, "B");
}

}  // namespace
}  // namespace dlbench
