// The derivation (analysis/derive.h): formulas against hand-computed values, the verdict's
// precedence, and deriving twice (a rank merge) leaving no stale figure.
#include "analysis/derive.h"

#include <gtest/gtest.h>

#include "core/timeline.h"

namespace dlbench {
namespace {

TEST(InputFigures, HandComputed) {
  TimelineTotals input;
  input.has_input = true;
  input.batches = 10;
  input.samples = 320;
  input.input_wait_s = 0.5;
  input.input_load_s = 4.0;
  input.input_workers = 4;
  input.emulated_compute_s = 0.15;
  InputFigures figures = input_figures(input, 2.0);
  EXPECT_DOUBLE_EQ(figures.stall_share, 25.0);                // 100 x 0.5 / 2
  EXPECT_DOUBLE_EQ(figures.loader_samples_per_s, 320.0);      // 320 / (4 / 4)
  EXPECT_DOUBLE_EQ(*figures.accelerator_utilization, 75.0);   // 100 x 10 x 0.15 / 2
  EXPECT_TRUE(figures.input_bound);                           // 25 > 10
  EXPECT_FALSE(input_figures(input, 2.0, 30.0).input_bound);  // 25 <= 30
  input.emulated_compute_s = 0;
  EXPECT_FALSE(input_figures(input, 2.0).accelerator_utilization.has_value());

  input.input_workers = 0;  // synchronous loading counts as one worker
  EXPECT_DOUBLE_EQ(input_figures(input, 2.0).loader_samples_per_s, 80.0);
  input.input_wait_s = 0.2;
  EXPECT_DOUBLE_EQ(input_figures(input, 2.0).stall_share, 10.0);
  EXPECT_FALSE(input_figures(input, 2.0).input_bound);  // 10 is not above 10
  input.input_load_s = 0;
  EXPECT_DOUBLE_EQ(input_figures(input, 2.0).loader_samples_per_s, 0.0);
  input.emulated_compute_s = 0.1;
  EXPECT_DOUBLE_EQ(input_figures(input, 0.0).stall_share, 0.0);
}

TEST(DecideBound, PrecedenceIsCompositeCommunicationInputCollectiveRoofline) {
  BoundEvidence evidence;
  EXPECT_FALSE(decide_bound(evidence).has_value());
  evidence.roofline = Bound{Verdict::kCompute, "r"};
  EXPECT_EQ(decide_bound(evidence)->verdict, Verdict::kCompute);
  evidence.collective = Bound{Verdict::kCommunication, "c"};
  EXPECT_EQ(decide_bound(evidence)->detail, "c");
  evidence.input = Bound{Verdict::kInput, "i"};
  EXPECT_EQ(decide_bound(evidence)->verdict, Verdict::kInput);
  evidence.communication = Bound{Verdict::kCommunication, "x"};
  EXPECT_EQ(decide_bound(evidence)->detail, "x");
  evidence.composite = Bound{Verdict::kMemory, "parts"};
  EXPECT_EQ(decide_bound(evidence)->detail, "parts");
}

/// A result of 1 GFLOP and 1 GB per step of 64 samples, measured at 10 ms per step.
Result hand_result() {
  Result result;
  result.problem = "test/sleep";
  result.workload = "test/sleep";
  result.params = {{"device", "cpu"}, {"threads", "1"}};
  result.work.flops = 1e9;
  result.work.bytes = 1e9;
  result.work.samples = 64;
  result.work.sample_unit = "images";
  return result;
}

Ceilings hand_ceilings() {
  Ceilings ceilings;
  ceilings.compute = Ceiling{200e9, "measured", "hand"};
  ceilings.bandwidth = Ceiling{400e9, "measured", "hand"};
  ceilings.device = "cpu";
  return ceilings;
}

TEST(Derive, FiguresFromStepTimesAgainstHandValues) {
  Result result = hand_result();
  Measurement m;
  m.step_times = {0.010, 0.010, 0.012, 0.008, 0.010};
  derive(result, m, hand_ceilings());
  EXPECT_DOUBLE_EQ(result.metrics.at("step_time").value, 0.010);
  EXPECT_DOUBLE_EQ(result.metrics.at("throughput").value, 6400.0);  // 64 / 0.01
  EXPECT_DOUBLE_EQ(result.metrics.at("flops").value, 1e11);         // 1e9 / 0.01
  EXPECT_DOUBLE_EQ(result.metrics.at("bandwidth").value, 1e11);
  EXPECT_DOUBLE_EQ(result.metrics.at("pct_peak_compute").value, 50.0);    // 1e11 / 2e11
  EXPECT_DOUBLE_EQ(result.metrics.at("pct_peak_bandwidth").value, 25.0);  // 1e11 / 4e11
  EXPECT_DOUBLE_EQ(result.metrics.at("arithmetic_intensity").value, 1.0);
  ASSERT_TRUE(result.bound.has_value());
  EXPECT_EQ(result.bound->verdict,
            Verdict::kCompute);  // 50% of the compute ceiling reaches the share
  ASSERT_TRUE(result.metrics.at("throughput").stats.has_value());
  EXPECT_EQ(result.metrics.at("throughput").stats->count, 5u);
}

TEST(Derive, DerivingAgainReplacesEveryDerivedFigure) {
  Result result = hand_result();
  Measurement loader_fed;
  loader_fed.step_times = {0.010};
  loader_fed.measured_seconds = 1.0;
  loader_fed.timeline.has_input = true;
  loader_fed.timeline.batches = 100;
  loader_fed.timeline.samples = 6400;
  loader_fed.timeline.input_wait_s = 0.5;
  derive(result, loader_fed, hand_ceilings());
  EXPECT_EQ(result.bound->verdict, Verdict::kInput);
  EXPECT_TRUE(result.run.contains("input"));
  EXPECT_TRUE(result.metrics.count("input_stall_share"));
  // Every metric written is one derive() owns.
  const std::vector<std::string>& owned = derived_metric_names();
  for (const auto& [name, metric] : result.metrics) {
    EXPECT_NE(std::find(owned.begin(), owned.end(), name), owned.end()) << name;
  }
  // Derived again from a measurement without a loader: no input figure survives.
  Measurement plain;
  plain.step_times = {0.020};
  derive(result, plain, Ceilings{});
  EXPECT_FALSE(result.run.contains("input"));
  EXPECT_FALSE(result.metrics.count("input_stall_share"));
  EXPECT_FALSE(result.metrics.count("pct_peak_compute"));
  EXPECT_FALSE(result.compute_ceiling.has_value());
  EXPECT_DOUBLE_EQ(result.metrics.at("throughput").value, 3200.0);
}

TEST(Derive, ACompositeTakesItsPartsVerdictAndHasNoStatistics) {
  Result result = hand_result();
  Measurement summed;
  summed.step_time_s = 0.5;
  derive(result, summed, Ceilings{}, Bound{Verdict::kMemory, "share of time in parts by verdict"});
  EXPECT_DOUBLE_EQ(result.metrics.at("step_time").value, 0.5);
  EXPECT_FALSE(result.metrics.at("step_time").stats.has_value());
  EXPECT_FALSE(result.metrics.at("throughput").stats.has_value());
  EXPECT_EQ(result.bound->verdict, Verdict::kMemory);
}

TEST(Derive, TheMeasurementOfAResultDerivesTheSameFigures) {
  Result result = hand_result();
  Measurement m;
  m.step_times = {0.010, 0.011, 0.009};
  m.measured_seconds = 0.03;
  m.timeline.comm_steps = 3;
  m.timeline.comm_calls = 6;
  m.timeline.comm_bytes = 3e6;
  m.timeline.comm_busy_s = 0.012;
  m.timeline.comm_exposed_s = 0.018;
  m.timeline.comm_backend = "gloo";
  derive(result, m, hand_ceilings());
  EXPECT_DOUBLE_EQ(result.metrics.at("comm_share").value, 40.0);          // 0.012 / 0.03
  EXPECT_DOUBLE_EQ(result.metrics.at("exposed_comm_share").value, 60.0);  // 0.018 / 0.03
  EXPECT_EQ(result.bound->verdict, Verdict::kCommunication);
  Result again = result;
  derive(again, measurement_of(result), hand_ceilings());
  for (const auto& [name, metric] : result.metrics) {
    ASSERT_TRUE(again.metrics.count(name)) << name;
    EXPECT_DOUBLE_EQ(again.metrics.at(name).value, metric.value) << name;
  }
  EXPECT_EQ(again.bound->detail, result.bound->detail);
}

}  // namespace
}  // namespace dlbench
