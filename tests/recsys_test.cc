// Recommendation models: Zipf-skewed ids, MLP FLOP formulas against hand-computed values, Dice,
// DLRM's analytic parameter count, and the recommendation metrics every recsys model reports
// (batch-1 latency, embedding share of the step).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"
#include "workloads/model/recsys/recsys.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;
using testing::set_up_model;

const char* const kRecsysModels[] = {"model/wide_deep", "model/din", "model/dien", "model/dlrm",
                                     "model/ncf"};

TEST(ZipfIds, StayInRangeAndAreSkewedByAlpha) {
  torch::manual_seed(1);
  const int64_t rows = 1000, draws = 200000;
  torch::Tensor skewed = model::zipf_ids({draws}, rows, 1.05, torch::kCPU);
  torch::Tensor uniform = model::zipf_ids({draws}, rows, 0.0, torch::kCPU);
  for (const torch::Tensor& ids : {skewed, uniform}) {
    EXPECT_EQ(ids.scalar_type(), torch::kLong);
    EXPECT_GE(ids.min().item<int64_t>(), 0);
    EXPECT_LT(ids.max().item<int64_t>(), rows);
  }
  // Zipf(1.05) over 1000 ranks: the top rank has P = 1 / H ~ 0.14 (H = sum r^-1.05 ~ 7.0);
  // uniform: 1 / 1000 each.
  double top_skewed = torch::bincount(skewed, {}, rows).max().item<double>() / draws;
  double top_uniform = torch::bincount(uniform, {}, rows).max().item<double>() / draws;
  EXPECT_GT(top_skewed, 0.08);
  EXPECT_LT(top_uniform, 0.002);
  // The scattering hash is a bijection: uniform draws reach every row.
  EXPECT_EQ(std::get<0>(torch::_unique(uniform)).numel(), rows);
  // The most popular id is not simply id 0 (popular rows are scattered by the hash)...
  int64_t hottest = torch::bincount(skewed, {}, rows).argmax().item<int64_t>();
  EXPECT_EQ(hottest, 0);  // ...except rank 0, which any multiplicative hash keeps at 0
  int64_t second = std::get<1>(torch::bincount(skewed, {}, rows).topk(2))[1].item<int64_t>();
  EXPECT_EQ(second, int64_t{2654435761} % rows);  // rank 1 lands at the multiplier mod rows
}

TEST(MlpFlops, MatchHandComputedValues) {
  // widths 4 -> 3 -> 2: forward 2 x (4 x 3 + 3 x 2) = 36.
  EXPECT_DOUBLE_EQ(model::mlp_flops({4, 3, 2}), 36);
  // Training: forward + weight gradients (72) + the second layer's data gradient (12).
  EXPECT_DOUBLE_EQ(model::mlp_train_flops({4, 3, 2}, false), 84);
  // ... + the first layer's data gradient (24) when its input needs one.
  EXPECT_DOUBLE_EQ(model::mlp_train_flops({4, 3, 2}, true), 108);
  EXPECT_EQ(model::mlp_parameters({4, 3, 2}), (4 + 1) * 3 + (3 + 1) * 2);
}

TEST(Dice, IsAGatedIdentityWithFreshStatisticsInEval) {
  model::Dice dice(2);
  dice->eval();  // running mean 0, variance 1: p = sigmoid(x / sqrt(1 + eps)), alpha = 0
  torch::Tensor x = torch::tensor({{2.0f, -1.0f}});
  torch::Tensor y = dice->forward(x);
  EXPECT_NEAR(y[0][0].item<double>(), 2.0 / (1 + std::exp(-2.0)), 1e-4);
  EXPECT_NEAR(y[0][1].item<double>(), -1.0 / (1 + std::exp(1.0)), 1e-4);
}

TEST(Dlrm, FullParameterCountIsTheMlperfConfiguration) {
  // 187,767,399 rows x 128 (the 26 Criteo Terabyte tables, ids capped at 40 M) + bottom MLP
  // 13-512-256-128 (171,392) + top MLP 479-1024-1024-512-256-1 (2,197,505).
  auto m = make_model("model/dlrm size=full");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->parameter_count(), 24036595969LL);
}

TEST(Dlrm, AnalyticParameterCountMatchesTheBuiltNetwork) {
  auto m =
      set_up_model("model/dlrm size=tiny mode=train tables=5 max_rows=300 dim=8 bottom_mlp=16-8");
  ASSERT_NE(m, nullptr);
  m->step();
  // The analytic count, against what the optimizer really updates (tables built in setup).
  EXPECT_EQ(m->parameter_count(), 5 * 300 * 8 + model::mlp_parameters({13, 16, 8}) +
                                      model::mlp_parameters({8 + 15, 32, 1}));
  EXPECT_TRUE(std::isfinite(m->last_loss()));
  m->teardown();
}

TEST(Dlrm, BadTableSpecsAreRejected) {
  for (const char* bad : {"model/dlrm tables=abc", "model/dlrm tables=10-x",
                          "model/dlrm bottom_mlp=32-99 dim=16", "model/dlrm top_mlp=32-2"}) {
    EXPECT_THROW(make_model(bad), Error) << bad;
  }
}

/// The embedding share is the lookups' median time over the step's median time (both measured).
void expect_embedding_share(const Result& r, const std::string& name) {
  double share = r.metrics.at("embedding_share").value;
  EXPECT_GT(share, 0) << name;
  EXPECT_DOUBLE_EQ(share,
                   100 * r.metrics.at("embedding_time").value / r.metrics.at("step_time").value)
      << name;
}

TEST(RecsysModels, InferReportsBatchOneLatencyAndEmbeddingShare) {
  for (const char* name : kRecsysModels) {
    Result r = testing::run_problem(std::string(name) + " size=tiny mode=infer");
    ASSERT_EQ(r.status, Status::kPassed) << name << ": " << r.reason;
    const Metric& latency = r.metrics.at("batch1_time");
    ASSERT_TRUE(latency.stats) << name;
    EXPECT_GT(latency.stats->p50, 0) << name;
    EXPECT_GE(latency.stats->p99, latency.stats->p50) << name;
    EXPECT_EQ(r.metrics.at("batch1_throughput").unit, "queries/s") << name;
    EXPECT_DOUBLE_EQ(r.metrics.at("batch1_throughput").value, 1 / latency.value) << name;
    expect_embedding_share(r, name);
  }
}

TEST(RecsysModels, TrainReportsTheEmbeddingShareOfTheStep) {
  for (const char* name : kRecsysModels) {
    Result r = testing::run_problem(std::string(name) + " size=tiny mode=train");
    ASSERT_EQ(r.status, Status::kPassed) << name << ": " << r.reason;
    EXPECT_EQ(r.metrics.count("batch1_time"), 0u) << name;
    expect_embedding_share(r, name);
  }
}

TEST(RecsysModels, LookupsAreAPartOfTheStep) {
  // At tiny sizes the lookups are most of a step, and two timings of nearly the same work can
  // cross under load; at DLRM's small size they are about a tenth of it (docs/workloads/dlrm.md).
  // Enough steps that one descheduled step cannot move either median.
  RunOptions o = testing::fast_options();
  o.warmup_steps = 3;
  o.min_steps = 15;
  // The probe and the step are timed at different moments, so a burst of load on a shared
  // machine can land on one of them: the smallest share of up to three runs is the claim.
  for (const char* mode : {"infer", "train"}) {
    Problem problem = Registry::instance().resolve(
        Problem::parse(std::string("model/dlrm size=small mode=") + mode));
    double smallest = INFINITY;
    for (int attempt = 0; attempt < 3 && !(smallest < 60); ++attempt) {
      Result r = run_in_process(problem, o);
      ASSERT_EQ(r.status, Status::kPassed) << mode << ": " << r.reason;
      expect_embedding_share(r, mode);
      smallest = std::min(smallest, r.metrics.at("embedding_share").value);
    }
    EXPECT_LT(smallest, 60) << mode;
  }
}

}  // namespace
}  // namespace dlbench
