// Training to quality: the metrics by hand, MLPerf's run combination, Valid FLOPS, the MLLOG
// format, and whole quality runs of LeNet on the generated set (no download needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/registry.h"
#include "core/runner.h"
#include "test_util.h"
#include "train/mllog.h"
#include "train/quality.h"
#include "train/quality_metrics.h"

namespace dlbench {
namespace {

TEST(QualityMetrics, TopOneAccuracyByHand) {
  train::TopOneAccuracy accuracy;
  EXPECT_TRUE(std::isnan(accuracy.value()));
  // Rows' argmax: 1, 0, 2, 2; labels 1, 0, 1, 2: three of four right.
  torch::Tensor scores =
      torch::tensor({0.1, 0.9, 0.0, 0.8, 0.1, 0.1, 0.2, 0.3, 0.5, 0.0, 0.1, 0.9}).reshape({4, 3});
  accuracy.add(scores, torch::tensor({1, 0, 1, 2}));
  EXPECT_DOUBLE_EQ(accuracy.value(), 75.0);
  accuracy.add(scores.slice(0, 0, 1), torch::tensor({0}));  // one more, wrong
  EXPECT_DOUBLE_EQ(accuracy.value(), 60.0);
  EXPECT_EQ(accuracy.seen(), 5);
}

TEST(QualityMetrics, RocAucByHand) {
  train::RocAuc auc;
  // Positives score 0.9, 0.4; negatives 0.5, 0.1. Pairs (pos > neg): (0.9,0.5) (0.9,0.1)
  // (0.4,0.1) = 3 of 4.
  auc.add(torch::tensor({0.9, 0.5, 0.4, 0.1}), torch::tensor({1, 0, 1, 0}));
  EXPECT_DOUBLE_EQ(auc.value(), 0.75);
  // A tie between a positive and a negative counts one half: add pos 0.5 -> pairs vs
  // negatives {0.5, 0.1}: 0.5 + 1; total (3 + 1.5) / (3 x 2).
  auc.add(torch::tensor({0.5}), torch::tensor({1}));
  EXPECT_DOUBLE_EQ(auc.value(), 4.5 / 6.0);
  train::RocAuc one_class;
  one_class.add(torch::tensor({0.2, 0.3}), torch::tensor({1, 1}));
  EXPECT_TRUE(std::isnan(one_class.value()));
}

TEST(QualityMetrics, MaePerplexityAndIou) {
  train::MeanAbsoluteError mae;
  mae.add(torch::tensor({1.0, 2.0, 3.0}), torch::tensor({1.5, 2.0, 1.0}));
  EXPECT_DOUBLE_EQ(mae.value(), 2.5 / 3);
  train::Perplexity perplexity;
  perplexity.add(2 * std::log(4.0), 2);  // two tokens of probability 1/4
  EXPECT_NEAR(perplexity.value(), 4.0, 1e-12);
  // Class 0: target {0,1}, predicted {0}: IoU 1/2. Class 1: target {2,3}, predicted {1,2,3}:
  // 2/3. Class 2 absent from both: left out.
  train::MeanIou iou(3);
  iou.add(torch::tensor({0, 1, 1, 1}), torch::tensor({0, 0, 1, 1}));
  EXPECT_NEAR(iou.class_iou(0), 50.0, 1e-9);
  EXPECT_NEAR(iou.class_iou(1), 200.0 / 3, 1e-9);
  EXPECT_TRUE(std::isnan(iou.class_iou(2)));
  EXPECT_NEAR(iou.value(), (50.0 + 200.0 / 3) / 2, 1e-9);
  EXPECT_THROW(iou.add(torch::tensor({3}), torch::tensor({0})), Error);
}

TEST(QualityRuns, OlympicMeanDropsFastestAndSlowest) {
  const double inf = std::numeric_limits<double>::infinity();
  train::RunMean five = train::olympic_mean({10, 14, 9, 30, 11});
  EXPECT_DOUBLE_EQ(five.mean, (10 + 14 + 11) / 3.0);
  EXPECT_EQ(five.dropped.size(), 2u);
  // One run that never reached the target is the slowest and is dropped.
  EXPECT_DOUBLE_EQ(train::olympic_mean({10, inf, 12, 11, 13}).mean, 12.0);
  // Two such runs: one stays among the kept ones, so no valid mean.
  EXPECT_FALSE(train::olympic_mean({10, inf, inf, 11, 13}).valid());
  // Fewer than three runs: plain mean.
  EXPECT_DOUBLE_EQ(train::olympic_mean({4, 6}).mean, 5.0);
  EXPECT_FALSE(train::olympic_mean({4, inf}).valid());
}

TEST(QualityRuns, ValidFlopsByHand) {
  // HPC AI500: 1 TFLOP/s at 0.9 of the target with n = 5 -> 0.9^5 = 0.59049 TFLOP/s.
  EXPECT_NEAR(train::valid_flops(1e12, train::quality_ratio(90, 100, true), 5), 0.59049e12, 1e3);
  // Lower is better (MAE 0.2 against a 0.1 target): ratio 0.5.
  EXPECT_DOUBLE_EQ(train::quality_ratio(0.2, 0.1, false), 0.5);
  EXPECT_TRUE(train::meets_target(0.1, 0.1, false));
  EXPECT_FALSE(train::meets_target(NAN, 0.1, true));
}

TEST(QualityRuns, MlLogLinesAreMlperfShaped) {
  std::string line =
      train::MlLog::format(1234.0, "POINT_IN_TIME", "eval_accuracy", 0.98, {{"epoch_num", 2}});
  ASSERT_EQ(line.rfind(":::MLLOG ", 0), 0u);
  nlohmann::json j = nlohmann::json::parse(line.substr(9));
  EXPECT_EQ(j["key"], "eval_accuracy");
  EXPECT_EQ(j["event_type"], "POINT_IN_TIME");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 0.98);
  EXPECT_EQ(j["metadata"]["epoch_num"], 2);
  EXPECT_DOUBLE_EQ(j["time_ms"].get<double>(), 1234.0);
}

TEST(QualityRuns, LeNetReachesTheTargetOnGeneratedDigits) {
  std::string log = testing::temp_dir() + "/run.mllog";
  RunOptions options = testing::fast_options();
  options.mllog = log;
  Problem problem = Registry::instance().resolve(
      Problem::parse("model/lenet size=tiny mode=quality dataset=generated workers=2"));
  Result result = run_in_process(problem, options);
  ASSERT_EQ(result.status, Status::kPassed) << result.reason;
  EXPECT_GE(result.metrics.at("quality").value, 95.0);
  EXPECT_GT(result.metrics.at("time_to_quality").value, 0);
  EXPECT_GT(result.metrics.at("epochs_to_quality").value, 0);
  EXPECT_GT(result.metrics.at("valid_flops").value, 0);
  EXPECT_GE(result.metrics.at("input_stall_share").value, 0);
  EXPECT_LE(result.metrics.at("input_stall_share").value, 100);
  const nlohmann::json& run = result.run.at("quality_runs").at(0);
  EXPECT_TRUE(run.at("reached").get<bool>());
  ASSERT_FALSE(run.at("curve").empty());
  EXPECT_GE(run.at("curve").back().at("quality").get<double>(), 95.0);
  // The MLPerf log has the run's bracket and its evaluations.
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"\"run_start\"", "\"run_stop\"", "\"eval_accuracy\"", "\"seed\"",
                          "\"global_batch_size\"", "\"epoch_start\"", "\"success\""}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
}

TEST(QualityRuns, UnreachableTargetIsInvalidWithTheBestQuality) {
  Result result = run_in_process(
      Registry::instance().resolve(Problem::parse(
          "model/lenet size=tiny mode=quality dataset=generated target=100.5 max_epochs=1")),
      testing::fast_options());
  EXPECT_EQ(result.status, Status::kInvalid);
  EXPECT_NE(result.reason.find("not reached"), std::string::npos) << result.reason;
  EXPECT_NE(result.reason.find("best top1"), std::string::npos) << result.reason;
  EXPECT_EQ(result.metrics.count("time_to_quality"), 0u);
  EXPECT_GT(result.metrics.at("valid_flops").value, 0);
  EXPECT_LT(result.metrics.at("valid_flops").value, result.metrics.at("achieved_flops").value);
}

TEST(QualityRuns, ThreeRunsRecordTheirSeedsAndDropTwo) {
  Result result = run_in_process(
      Registry::instance().resolve(Problem::parse(
          "model/lenet size=tiny mode=quality dataset=generated runs=3 seed=7 target=80")),
      testing::fast_options());
  ASSERT_EQ(result.status, Status::kPassed) << result.reason;
  const nlohmann::json& runs = result.run.at("quality_runs");
  ASSERT_EQ(runs.size(), 3u);
  int kept = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[i].at("seed").get<uint64_t>(), 7 + i);
    kept += runs[i].at("kept").get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(kept, 1);
}

TEST(QualityRuns, ModelWithoutATaskIsSkippedAndMissingDataIsOneClearError) {
  // A model without a quality task does not even offer the mode.
  EXPECT_THROW(Registry::instance().resolve(Problem::parse("model/resnet50 mode=quality")), Error);
  // MNIST absent from an empty data directory: FAILED with the fetch command in the reason.
  std::string empty = testing::temp_dir();
  setenv("DLBENCH_DATA_DIR", empty.c_str(), 1);
  Result result = run_in_process(
      Registry::instance().resolve(Problem::parse("model/lenet size=tiny mode=quality")),
      testing::fast_options());
  unsetenv("DLBENCH_DATA_DIR");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_NE(result.reason.find("dlbench data fetch mnist"), std::string::npos) << result.reason;
}

}  // namespace
}  // namespace dlbench

namespace dlbench {
namespace {

/// Every model with a quality task runs it end to end at tiny (a dry run: two training and two
/// evaluation batches) on generated data, or says which data set to fetch.
TEST(QualityRuns, EveryQualityTaskRunsOrNamesItsDataSet) {
  std::string data_dir = testing::temp_dir();
  setenv("DLBENCH_DATA_DIR", data_dir.c_str(), 1);
  RunOptions options = testing::fast_options();
  options.dry_run = true;
  int tasks = 0;
  for (const WorkloadInfo* info : Registry::instance().list(false)) {
    if (std::find(info->modes.begin(), info->modes.end(), "quality") == info->modes.end()) {
      continue;
    }
    ++tasks;
    Problem problem =
        Registry::instance().resolve(Problem::parse(info->name + " size=tiny mode=quality"));
    Result result = run_in_process(problem, options);
    if (result.status == Status::kFailed) {
      EXPECT_NE(result.reason.find("dlbench data fetch"), std::string::npos)
          << info->name << ": " << result.reason;
      continue;
    }
    EXPECT_TRUE(result.status == Status::kPassed || result.status == Status::kInvalid)
        << info->name << ": " << result.reason;
    const nlohmann::json& curve = result.run.at("quality_runs").at(0).at("curve");
    ASSERT_FALSE(curve.empty()) << info->name;
    EXPECT_TRUE(std::isfinite(curve.back().at("quality").get<double>())) << info->name;
    EXPECT_TRUE(std::isfinite(result.metrics.at("input_stall_share").value)) << info->name;
  }
  unsetenv("DLBENCH_DATA_DIR");
  EXPECT_GE(tasks, 4);  // lenet, dlrm, cosmoflow, gpt
}

}  // namespace
}  // namespace dlbench
