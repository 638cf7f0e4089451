// Every whole-model benchmark (model/...) under one contract, discovered from the registry so a
// new model is covered the moment it registers: tiny presets run in both modes and pass their
// check; the analytic FLOP formula matches the count collected from the layers as they run
// (within 2%); training on a fixed batch lowers the loss; the full preset's parameter count
// matches the published figure; describe gives parameters and FLOPs per sample.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/registry.h"
#include "test_util.h"
#include "workloads/model/model.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const WorkloadInfo* info : Registry::instance().list(false)) {
    if (info->category == "model") names.push_back(info->name);
  }
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.find('/') + 1);
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class Models : public ::testing::TestWithParam<std::string> {};

TEST(ModelsRegistered, EveryDocumentedModelIsRegistered) {
  // The vision and science models, the recommendation and language models; more may register.
  std::vector<std::string> names = model_names();
  for (const char* expected :
       {"model/resnet50", "model/ssd", "model/faster_rcnn", "model/crnn", "model/cosmoflow",
        "model/deepcam", "model/ewa", "model/hep", "model/dcgan", "model/wide_deep", "model/din",
        "model/dien", "model/dlrm", "model/ncf", "model/transformer", "model/gnmt", "model/bert",
        "model/gpt", "model/gcn"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST_P(Models, TinyPresetRunsInBothModes) {
  for (const char* mode : {"train", "infer"}) {
    Result r = testing::run_problem(GetParam() + " size=tiny mode=" + mode);
    ASSERT_EQ(r.status, Status::kPassed) << r.problem << ": " << r.reason;
    EXPECT_EQ(r.check.status, CheckOutcome::Status::kPassed) << r.problem << r.check.detail;
    EXPECT_GT(r.work.flops, 0) << r.problem;
    EXPECT_GT(r.work.samples, 0) << r.problem;
    EXPECT_GT(r.metrics.at("throughput").value, 0) << r.problem;
    EXPECT_GT(r.metrics.at("flops").value, 0) << r.problem;
    EXPECT_EQ(r.work.primary_metric(), "throughput");
    EXPECT_TRUE(r.work.partial_accounting);
    ASSERT_TRUE(r.bound.has_value());
    EXPECT_EQ(r.bound->verdict, r.bound->verdict == "compute" ? "compute" : "unknown");
  }
}

TEST_P(Models, AnalyticFlopsMatchTheRuntimeCount) {
  auto device = Device::create("cpu");
  for (const char* mode : {"infer", "train"}) {
    auto m = make_model(GetParam() + " size=tiny mode=" + mode);
    ASSERT_NE(m, nullptr);
    ExecContext context{*device, 2, 0};
    m->setup(context);
    model::FlopTally tally = m->count_step_flops();
    m->teardown();
    double batch = static_cast<double>(m->batch());
    ModelWorkload::Flops analytic = m->analytic_flops();
    double counted = tally.total() / batch;
    double expected = m->training() ? analytic.train : analytic.forward;
    EXPECT_GT(counted, 0) << GetParam() << " " << mode;
    // `forward` is one inference pass; a training step may run several (a GAN runs G and D
    // more than once), so the forward tally is compared in infer mode only.
    if (!m->training()) {
      EXPECT_NEAR(analytic.forward, tally.forward / batch, 0.02 * analytic.forward)
          << GetParam() << ": forward";
    }
    EXPECT_NEAR(expected, counted, 0.02 * expected) << GetParam() << " " << mode;
    if (!m->training()) {
      EXPECT_EQ(tally.backward, 0) << GetParam();
    }
  }
}

TEST_P(Models, TrainingLowersTheLossOnAFixedBatch) {
  auto device = Device::create("cpu");
  auto m = make_model(GetParam() + " size=tiny mode=train");
  ASSERT_NE(m, nullptr);
  ExecContext context{*device, 2, 0};
  m->setup(context);
  const int steps = 40;
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    m->step();
    losses.push_back(m->last_loss());
    ASSERT_TRUE(std::isfinite(losses.back())) << GetParam() << " step " << i;
  }
  m->teardown();
  double first = (losses[0] + losses[1] + losses[2]) / 3;
  double last = (losses[steps - 1] + losses[steps - 2] + losses[steps - 3]) / 3;
  EXPECT_LT(last, 0.8 * first) << GetParam() << ": loss " << first << " -> " << last;
}

TEST_P(Models, FullPresetMatchesThePublishedParameterCount) {
  auto m = make_model(GetParam() + " size=full");
  ASSERT_NE(m, nullptr);
  auto published = m->published_parameters();
  if (!published) GTEST_SKIP() << GetParam() << " states no published count";
  double count = static_cast<double>(m->parameter_count());
  EXPECT_NEAR(count, published->parameters, published->tolerance * published->parameters)
      << GetParam() << " vs " << published->source;
}

TEST_P(Models, DescribeGivesParametersAndFlopsPerSample) {
  auto m = make_model(GetParam() + " size=tiny");
  ASSERT_NE(m, nullptr);
  Description d = m->describe();
  EXPECT_FALSE(d.summary.empty());
  auto has = [&](const std::string& key) {
    for (auto& [k, v] : d.facts) {
      if (k == key && !v.empty()) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("parameters"));
  EXPECT_TRUE(has("forward FLOPs / sample"));
  EXPECT_TRUE(has("training FLOPs / sample"));
  EXPECT_TRUE(has("optimizer"));
  ModelWorkload::Flops f = m->analytic_flops();
  // A training step costs more than its own forward pass, but not necessarily more than
  // inference: an autoregressive decoding loop (model/transformer) can cost more than a
  // teacher-forced training step. Both must be counted.
  EXPECT_GT(f.train, 0) << GetParam();
  EXPECT_GT(f.forward, 0) << GetParam();
}

TEST_P(Models, Fp16IsRefusedOnTheCpuWithAReason) {
  Result r = testing::run_problem(GetParam() + " size=tiny dtype=fp16");
  EXPECT_EQ(r.status, Status::kSkipped) << r.reason;
  EXPECT_NE(r.reason.find("bf16"), std::string::npos) << r.reason;
}

TEST_P(Models, Bf16AutocastTrainsOnTheCpu) {
  Result r = testing::run_problem(GetParam() + " size=tiny dtype=bf16");
  ASSERT_EQ(r.status, Status::kPassed) << r.problem << ": " << r.reason;
  EXPECT_EQ(r.work.dtype, "bf16");
}

INSTANTIATE_TEST_SUITE_P(All, Models, ::testing::ValuesIn(model_names()), test_name);

}  // namespace
}  // namespace dlbench
