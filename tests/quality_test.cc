// Training to quality: the metrics by hand, MLPerf's run combination, Valid FLOPS, the MLLOG
// format, and whole quality runs of LeNet on the generated set (no download needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "core/error.h"
#include "core/registry.h"
#include "data/netcdf.h"
#include "harness/mllog.h"
#include "harness/quality.h"
#include "harness/runner.h"
#include "nn/quality_metrics.h"
#include "test_util.h"
#include "workloads/common/image_sets.h"

namespace dlbench {
namespace {

TEST(QualityMetrics, TopOneAccuracyByHand) {
  nn::TopOneAccuracy accuracy;
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
  nn::RocAuc auc;
  // Positives score 0.9, 0.4; negatives 0.5, 0.1. Pairs (pos > neg): (0.9,0.5) (0.9,0.1)
  // (0.4,0.1) = 3 of 4.
  auc.add(torch::tensor({0.9, 0.5, 0.4, 0.1}), torch::tensor({1, 0, 1, 0}));
  EXPECT_DOUBLE_EQ(auc.value(), 0.75);
  // A tie between a positive and a negative counts one half: add pos 0.5 -> pairs vs
  // negatives {0.5, 0.1}: 0.5 + 1; total (3 + 1.5) / (3 x 2).
  auc.add(torch::tensor({0.5}), torch::tensor({1}));
  EXPECT_DOUBLE_EQ(auc.value(), 4.5 / 6.0);
  nn::RocAuc one_class;
  one_class.add(torch::tensor({0.2, 0.3}), torch::tensor({1, 1}));
  EXPECT_TRUE(std::isnan(one_class.value()));
}

TEST(QualityMetrics, MaePerplexityAndIou) {
  nn::MeanAbsoluteError mae;
  mae.add(torch::tensor({1.0, 2.0, 3.0}), torch::tensor({1.5, 2.0, 1.0}));
  EXPECT_DOUBLE_EQ(mae.value(), 2.5 / 3);
  nn::Perplexity perplexity;
  perplexity.add(2 * std::log(4.0), 2);  // two tokens of probability 1/4
  EXPECT_NEAR(perplexity.value(), 4.0, 1e-12);
  // Class 0: target {0,1}, predicted {0}: IoU 1/2. Class 1: target {2,3}, predicted {1,2,3}:
  // 2/3. Class 2 absent from both: left out.
  nn::MeanIou iou(3);
  iou.add(torch::tensor({0, 1, 1, 1}), torch::tensor({0, 0, 1, 1}));
  EXPECT_NEAR(iou.class_iou(0), 50.0, 1e-9);
  EXPECT_NEAR(iou.class_iou(1), 200.0 / 3, 1e-9);
  EXPECT_TRUE(std::isnan(iou.class_iou(2)));
  EXPECT_NEAR(iou.value(), (50.0 + 200.0 / 3) / 2, 1e-9);
  EXPECT_THROW(iou.add(torch::tensor({3}), torch::tensor({0})), Error);
}

TEST(QualityMetrics, MeanAveragePrecisionByHand) {
  // One image, two digits of class 0 at (0,0,10,10) and (20,20,30,30), one of class 1 at
  // (40,40,50,50). Class 0 detections by score: 0.9 on the first (TP), 0.8 on the first again
  // (a duplicate: FP), 0.7 on the second shifted by one pixel (IoU 81/119 = 0.68: TP).
  // Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1; made monotone: 1, 2/3, 2/3.
  // AP = 1/2 x 1 + 0 x 2/3 + 1/2 x 2/3 = 5/6. Class 1: one detection at IoU 0.25 (FP): AP 0.
  // Class 2 has no ground truth and is left out: mAP = (5/6 + 0) / 2.
  torch::Tensor detections = torch::tensor({{{0.f, 0.f, 10.f, 10.f, 0.9f, 0.f},
                                             {0.f, 0.f, 10.f, 10.f, 0.8f, 0.f},
                                             {21.f, 21.f, 31.f, 31.f, 0.7f, 0.f},
                                             {40.f, 45.f, 50.f, 55.f, 0.6f, 1.f},
                                             {0.f, 0.f, 0.f, 0.f, 0.f, 0.f}}});
  torch::Tensor boxes = torch::tensor({{{0.f, 0.f, 10.f, 10.f},
                                        {20.f, 20.f, 30.f, 30.f},
                                        {40.f, 40.f, 50.f, 50.f},
                                        {0.f, 0.f, 0.f, 0.f}}});
  torch::Tensor classes = torch::tensor({{0, 0, 1, -1}}, torch::kLong);
  nn::MeanAveragePrecision map(3, 0.5);
  map.add(detections, boxes, classes);
  EXPECT_NEAR(map.class_ap(0), 100.0 * 5 / 6, 1e-9);
  EXPECT_NEAR(map.class_ap(1), 0.0, 1e-12);
  EXPECT_TRUE(std::isnan(map.class_ap(2)));
  EXPECT_NEAR(map.value(), 100.0 * 5 / 12, 1e-9);
  // At IoU 0.7 the shifted box no longer counts: class 0 AP = 1/2.
  nn::MeanAveragePrecision strict(3, 0.7);
  strict.add(detections, boxes, classes);
  EXPECT_NEAR(strict.class_ap(0), 50.0, 1e-9);
  EXPECT_THROW(map.add(torch::zeros({1, 2, 5}), boxes, classes), Error);
}

TEST(QualityMetrics, SequenceAccuracyByHand) {
  nn::SequenceAccuracy accuracy;
  EXPECT_TRUE(std::isnan(accuracy.value()));
  // Targets 3 1 4 | 1 5 | 9 with lengths 3, 2, 1: the first and third decoded exactly, the
  // second one too long.
  torch::Tensor targets = torch::tensor({{3, 1, 4}, {1, 5, 0}, {9, 0, 0}}, torch::kLong);
  torch::Tensor lengths = torch::tensor({3, 2, 1}, torch::kLong);
  accuracy.add({{3, 1, 4}, {1, 5, 5}, {9}}, targets, lengths);
  EXPECT_NEAR(accuracy.value(), 200.0 / 3, 1e-9);
  EXPECT_THROW(accuracy.add({{1}}, targets, lengths), Error);
}

/// Digit canvases: every digit inside the canvas, all ink inside the ground-truth boxes,
/// classes in range, and canvas i the same whenever it is loaded.
TEST(QualityData, DigitCanvasesHaveExactBoxes) {
  common::LabelledImages digits = common::generated_image_set(64, true, 0);
  // Black frames around the patterns so that ink boxes are tight (generated noise covers the
  // whole 28 x 28 otherwise).
  digits.images.slice(1, 0, 4).zero_();
  digits.images.slice(1, 24, 28).zero_();
  digits.images.slice(2, 0, 4).zero_();
  digits.images.slice(2, 24, 28).zero_();
  common::CanvasOptions options;
  options.size = 64;
  options.max_digits = 3;
  options.min_side = 20;
  options.max_side = 32;
  common::DigitCanvasSource source(digits, options, 100, 5);
  data::Batch batch = source.load({0, 1, 2, 3, 4, 5, 6, 7}, 0);
  ASSERT_EQ(batch.tensors.size(), 3u);
  torch::Tensor images = batch.tensors[0], boxes = batch.tensors[1], classes = batch.tensors[2];
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{8, 1, 64, 64}));
  for (int64_t i = 0; i < 8; ++i) {
    torch::Tensor inside = torch::zeros({64, 64}, torch::kBool);
    int64_t count = 0;
    for (int64_t k = 0; k < 3; ++k) {
      int64_t c = classes[i][k].item<int64_t>();
      if (c < 0) continue;
      ++count;
      EXPECT_LT(c, 10);
      auto b = boxes[i][k];
      double x1 = b[0].item<double>(), y1 = b[1].item<double>(), x2 = b[2].item<double>(),
             y2 = b[3].item<double>();
      EXPECT_GE(x1, 0);
      EXPECT_GE(y1, 0);
      EXPECT_LE(x2, 64);
      EXPECT_LE(y2, 64);
      EXPECT_GT(x2 - x1, 5);
      inside.slice(0, static_cast<int64_t>(std::floor(y1)), static_cast<int64_t>(std::ceil(y2)))
          .slice(1, static_cast<int64_t>(std::floor(x1)), static_cast<int64_t>(std::ceil(x2)))
          .fill_(true);
    }
    EXPECT_GE(count, 1);
    // Bilinear resizing bleeds at most one pixel beyond a box.
    torch::Tensor grown =
        torch::max_pool2d(inside.to(torch::kFloat).view({1, 1, 64, 64}), 3, 1, 1).view({64, 64}) >
        0;
    EXPECT_EQ(images[i][0].masked_select(~grown).abs().sum().item<double>(), 0.0) << i;
    EXPECT_GT(images[i][0].sum().item<double>(), 0.0);
  }
  data::Batch again = source.load({3}, 99);
  EXPECT_TRUE(torch::equal(again.tensors[0][0], images[3]));
  EXPECT_TRUE(torch::equal(again.tensors[1][0], boxes[3]));
}

/// Digit strings: transcripts of 1..max digits coded 1..10, zero after their length, and ink
/// only where the string was written.
TEST(QualityData, DigitStringsHaveExactTranscripts) {
  common::LabelledImages digits = common::generated_image_set(64, true, 0);
  common::DigitStringSource source(digits, 100, 6, 50, 3);
  data::Batch batch = source.load({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0);
  torch::Tensor images = batch.tensors[0], targets = batch.tensors[1], lengths = batch.tensors[2];
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{10, 1, 32, 100}));
  EXPECT_GE(images.min().item<double>(), -1.0);
  EXPECT_LE(images.max().item<double>(), 1.0);
  for (int64_t i = 0; i < 10; ++i) {
    int64_t length = lengths[i].item<int64_t>();
    EXPECT_GE(length, 1);
    EXPECT_LE(length, 6);
    for (int64_t k = 0; k < 6; ++k) {
      int64_t t = targets[i][k].item<int64_t>();
      if (k < length) {
        EXPECT_GE(t, 1);
        EXPECT_LE(t, 10);
      } else {
        EXPECT_EQ(t, 0);
      }
    }
    EXPECT_GT(images[i].max().item<double>(), -1.0);  // something was written
  }
  EXPECT_TRUE(torch::equal(source.load({4}, 7).tensors[0][0], images[4]));
}

TEST(QualityRuns, OlympicMeanDropsFastestAndSlowest) {
  const double inf = std::numeric_limits<double>::infinity();
  RunMean five = olympic_mean({10, 14, 9, 30, 11});
  EXPECT_DOUBLE_EQ(five.mean, (10 + 14 + 11) / 3.0);
  EXPECT_EQ(five.dropped.size(), 2u);
  // One run that never reached the target is the slowest and is dropped.
  EXPECT_DOUBLE_EQ(olympic_mean({10, inf, 12, 11, 13}).mean, 12.0);
  // Two such runs: one stays among the kept ones, so no valid mean.
  EXPECT_FALSE(olympic_mean({10, inf, inf, 11, 13}).valid());
  // Fewer than three runs: plain mean.
  EXPECT_DOUBLE_EQ(olympic_mean({4, 6}).mean, 5.0);
  EXPECT_FALSE(olympic_mean({4, inf}).valid());
}

TEST(QualityRuns, ValidFlopsByHand) {
  // HPC AI500: 1 TFLOP/s at 0.9 of the target with n = 5 -> 0.9^5 = 0.59049 TFLOP/s.
  EXPECT_NEAR(valid_flops(1e12, quality_ratio(90, 100, true), 5), 0.59049e12, 1e3);
  // Lower is better (MAE 0.2 against a 0.1 target): ratio 0.5.
  EXPECT_DOUBLE_EQ(quality_ratio(0.2, 0.1, false), 0.5);
  EXPECT_TRUE(meets_target(0.1, 0.1, false));
  EXPECT_FALSE(meets_target(NAN, 0.1, true));
}

TEST(QualityRuns, MlLogLinesAreMlperfShaped) {
  std::string line =
      MlLog::format(1234.0, "POINT_IN_TIME", "eval_accuracy", 0.98, {{"epoch_num", 2}});
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
  // lenet, dlrm, cosmoflow, gpt, ssd, crnn, hep, deepcam
  EXPECT_GE(tasks, 8);
}

/// The digit tasks run end to end on canvases and strings of the generated patterns, and the
/// jet task on its toy shower (dry runs: two training and two evaluation batches).
TEST(QualityRuns, DetectionTextAndJetTasksRunOnGeneratedData) {
  RunOptions options = testing::fast_options();
  options.dry_run = true;
  for (const char* text : {"model/ssd size=tiny mode=quality dataset=generated",
                           "model/crnn size=tiny mode=quality dataset=generated",
                           "model/hep size=tiny mode=quality"}) {
    Result result = run_in_process(Registry::instance().resolve(Problem::parse(text)), options);
    ASSERT_TRUE(result.status == Status::kPassed || result.status == Status::kInvalid)
        << text << ": " << result.reason;
    double quality = result.run.at("quality_runs").at(0).at("curve").back().at("quality");
    EXPECT_GE(quality, 0) << text;
    EXPECT_LE(quality, 100) << text;
  }
}

/// A short real run of the toy jets: a tiny ResNet separates W jets from QCD jets well above
/// chance within two epochs.
TEST(QualityRuns, ToyJetsAreSeparable) {
  Result result = run_in_process(Registry::instance().resolve(Problem::parse(
                                     "model/hep size=tiny mode=quality target=0.7 max_epochs=3")),
                                 testing::fast_options());
  ASSERT_EQ(result.status, Status::kPassed) << result.reason;
  EXPECT_GE(result.metrics.at("quality").value, 0.7);
}

/// The NOAA wind-event task on a synthetic file of the real one's layout (UWND and VWND, 132
/// months x 73 x 144, padded to the real file's size so the catalog accepts it): it trains one
/// epoch and scores the held-out year.
TEST(QualityRuns, DeepCamSegmentsWindEventsOfANetcdfFile) {
  std::string data_dir = testing::temp_dir();
  std::string noaa = data_dir + "/noaa";
  ASSERT_EQ(std::system(("mkdir -p " + noaa).c_str()), 0);
  torch::manual_seed(3);
  // Smooth zonal jets (westerlies near 50 degrees, trades near 15) plus noise.
  torch::Tensor lat = torch::linspace(-90, 90, 73).view({1, 73, 1});
  torch::Tensor u = 12 * torch::exp(-((lat.abs() - 50) / 8).pow(2)) -
                    7 * torch::exp(-((lat.abs() - 15) / 6).pow(2)) +
                    3 * torch::randn({132, 73, 144});
  torch::Tensor v = 3 * torch::randn({132, 73, 144});
  std::vector<data::NcDimension> dims = {
      {"TIME", 0, true}, {"FNOCY", 73, false}, {"FNOCX", 144, false}};
  std::string path = noaa + "/monthly_navy_winds.cdf";
  data::write_netcdf_classic(path, dims, {},
                             {{"UWND", data::NcType::kFloat, {"TIME", "FNOCY", "FNOCX"}, u, {}},
                              {"VWND", data::NcType::kFloat, {"TIME", "FNOCY", "FNOCX"}, v, {}}});
  ASSERT_EQ(truncate(path.c_str(), 11104376), 0);
  ASSERT_EQ(std::system(("truncate -s 5447472 " + noaa + "/coads_climatology.cdf").c_str()), 0);
  setenv("DLBENCH_DATA_DIR", data_dir.c_str(), 1);
  Result result = run_in_process(
      Registry::instance().resolve(Problem::parse(
          "model/deepcam size=tiny mode=quality max_epochs=1 eval_every=1 target=99")),
      testing::fast_options());
  unsetenv("DLBENCH_DATA_DIR");
  ASSERT_TRUE(result.status == Status::kPassed || result.status == Status::kInvalid)
      << result.reason;
  double miou = result.run.at("quality_runs").at(0).at("curve").back().at("quality");
  EXPECT_GT(miou, 0);
  EXPECT_LE(miou, 100);
  EXPECT_NE(result.run.at("quality").dump().find("95th"), std::string::npos);
}

/// input=loader: mode=train takes every batch from the loader and reports the input pipeline.
TEST(QualityRuns, TrainingFromTheLoaderReportsTheInputPipeline) {
  for (const char* text : {"model/lenet size=tiny dataset=generated input=loader",
                           "model/hep size=tiny input=loader workers=1"}) {
    Result result =
        run_in_process(Registry::instance().resolve(Problem::parse(text)), testing::fast_options());
    ASSERT_EQ(result.status, Status::kPassed) << text << ": " << result.reason;
    EXPECT_TRUE(result.metrics.count("input_stall_share")) << text;
    EXPECT_TRUE(result.metrics.count("loader_throughput")) << text;
    EXPECT_GT(result.run.at("input").at("batches").get<int64_t>(), 0) << text;
  }
}

}  // namespace
}  // namespace dlbench
