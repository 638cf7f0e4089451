// micro/embedding: work counts against hand-computed values, every pass x dtype x distribution at
// tiny sizes, the Zipf index generator's skew, the description's top-rows share, and rejected
// parameter values.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {

// Defined in src/workloads/micro/embedding.cc (no header: it exists for this test).
at::Tensor embedding_lookup_indices(int64_t rows, int64_t count, bool zipf, double alpha);

namespace {

using testing::expect_passed_or_skipped;
using testing::expect_rejected;
using testing::expect_sane;
using testing::run_problem;
using testing::work_of;

// ---------------------------------------------------------------------------------------------
// micro/embedding

TEST(Embedding, WorkCountsByHand) {
  // rows=1000 dim=12 bags=7 bag_size=5: 35 lookups.
  // fwd sum fp32: FLOPs 35*12 = 420; bytes 420*4 (rows gathered) = 1680, + 35*8 = 280 (indices),
  //   + 7*8 = 56 (offsets), + 7*12*4 = 336 (output): 2352.
  WorkCounts w = work_of("micro/embedding rows=1000 dim=12 bags=7 bag_size=5 dtype=fp32");
  EXPECT_DOUBLE_EQ(w.flops, 420);
  EXPECT_DOUBLE_EQ(w.bytes, 2352);
  EXPECT_DOUBLE_EQ(w.samples, 7);
  EXPECT_EQ(w.sample_unit, "bags");
  EXPECT_EQ(w.primary_metric(), "bandwidth");
  // fwd mean bf16: FLOPs 420 + 7*12 = 504; bytes 840 + 280 + 56 + 168 = 1344.
  w = work_of("micro/embedding rows=1000 dim=12 bags=7 bag_size=5 pooling=mean dtype=bf16");
  EXPECT_DOUBLE_EQ(w.flops, 504);
  EXPECT_DOUBLE_EQ(w.bytes, 1344);
  EXPECT_EQ(w.dtype, "bf16");
  // bwd sum fp32: FLOPs 420; bytes 2352 + 1000*12*4 = 48000 (dense gradient): 50352.
  w = work_of("micro/embedding rows=1000 dim=12 bags=7 bag_size=5 pass=bwd");
  EXPECT_DOUBLE_EQ(w.flops, 420);
  EXPECT_DOUBLE_EQ(w.bytes, 50352);
  // bwd mean fp16 zipf: FLOPs 504; bytes 1344 + 1000*12*2 = 24000: 25344.
  w = work_of(
      "micro/embedding rows=1000 dim=12 bags=7 bag_size=5 pass=bwd pooling=mean dtype=fp16 "
      "distribution=zipf");
  EXPECT_DOUBLE_EQ(w.flops, 504);
  EXPECT_DOUBLE_EQ(w.bytes, 25344);
}

TEST(Embedding, EveryPassDtypeAndDistributionPassesItsCheck) {
  // fp32 must pass. bf16 and fp16 must pass or be SKIPPED: LibTorch 1.13's CPU embedding_bag
  // takes fp16 but rejects bf16 (SKIPPED there); newer LibTorch and CUDA run both.
  for (const char* pass : {"fwd", "bwd"}) {
    for (const char* dist : {"uniform", "zipf"}) {
      for (const char* pooling : {"sum", "mean"}) {
        std::string problem = std::string("micro/embedding rows=500 dim=12 bags=7 bag_size=5 ") +
                              "pass=" + pass + " distribution=" + dist + " pooling=" + pooling;
        expect_sane(run_problem(problem + " dtype=fp32"));
        expect_passed_or_skipped(run_problem(problem + " dtype=bf16"));
        expect_passed_or_skipped(run_problem(problem + " dtype=fp16"));
      }
    }
  }
  // A hot Zipf table: the hottest row's gradient sums hundreds of output-gradient rows.
  for (const char* dtype : {"fp32", "fp16", "bf16"}) {
    expect_passed_or_skipped(
        run_problem(std::string("micro/embedding rows=300 dim=16 bags=64 bag_size=20 "
                                "pass=bwd distribution=zipf alpha=1.2 dtype=") +
                    dtype));
  }
}

TEST(Embedding, ZipfIndicesAreSkewedAndPermuted) {
  const int64_t rows = 1000, count = 20000;
  torch::manual_seed(7);
  at::Tensor uniform = embedding_lookup_indices(rows, count, false, 0);
  at::Tensor zipf = embedding_lookup_indices(rows, count, true, 1.2);
  for (const at::Tensor& t : {uniform, zipf}) {
    EXPECT_EQ(t.numel(), count);
    EXPECT_GE(t.min().item<int64_t>(), 0);
    EXPECT_LT(t.max().item<int64_t>(), rows);
  }
  at::Tensor uniform_counts = at::bincount(uniform, {}, rows);
  at::Tensor zipf_counts = at::bincount(zipf, {}, rows);
  // Uniform: 20 expected hits per row, the maximum a few standard deviations (sqrt 20) above.
  // Zipf(1.2) over 1000 ranks: P(rank 1) = 1 / sum_{r<=1000} r^-1.2 = 0.2306, ~4613 hits.
  int64_t uniform_max = uniform_counts.max().item<int64_t>();
  int64_t zipf_max = zipf_counts.max().item<int64_t>();
  EXPECT_LT(uniform_max, 60);
  EXPECT_GT(zipf_max, 20 * uniform_max);
  EXPECT_NEAR(static_cast<double>(zipf_max) / count, 0.2306, 0.02);
  // The 10 hottest rows (top 1%) take sum_{r<=10} r^-1.2 / sum_{r<=1000} r^-1.2 = 56.9%.
  at::Tensor top = std::get<0>(zipf_counts.sort(0, /*descending=*/true)).slice(0, 0, 10);
  EXPECT_NEAR(top.sum().item<double>() / count, 0.5692, 0.02);
  // The permutation scatters hot rows: the 10 hottest are not the ids 0..9.
  at::Tensor hottest = std::get<1>(zipf_counts.sort(0, true)).slice(0, 0, 10);
  EXPECT_GT(hottest.max().item<int64_t>(), 9);
}

TEST(Embedding, DescribeGivesTheTopRowsShare) {
  auto w = Registry::instance().create(Registry::instance().resolve(
      Problem::parse("micro/embedding rows=1000 distribution=zipf alpha=1.2")));
  bool found = false;
  for (const auto& [key, value] : w->describe().facts) {
    if (key.find("top 1%") != std::string::npos) {
      found = true;
      EXPECT_NE(value.find("56.9%"), std::string::npos) << value;  // see the test above
    }
  }
  EXPECT_TRUE(found);
}

TEST(Embedding, BadValuesAreRejected) {
  expect_rejected("micro/embedding distribution=zipf alpha=0");
  expect_rejected("micro/embedding distribution=zipf alpha=-1");
  expect_rejected("micro/embedding bag_size=0");
  expect_rejected("micro/embedding rows=0");
  expect_rejected("micro/embedding dim=0");
  expect_rejected("micro/embedding pooling=max");
  expect_rejected("micro/embedding dtype=fp64");
  expect_rejected("micro/embedding distribution=normal");
}

}  // namespace
}  // namespace dlbench
