// Every micro workload at a tiny size on the CPU: it runs, its check passes, and its figures
// follow from its formulas.
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

Result run(const std::string& text) {
  return run_in_process(Registry::instance().resolve(Problem::parse(text)),
                        testing::fast_options());
}

/// Figures must follow from work counts and the median time, and stay below the ceiling.
void expect_sane(const Result& r) {
  ASSERT_EQ(r.status, Status::kPassed) << r.problem << ": " << r.reason;
  EXPECT_EQ(r.check.status, CheckOutcome::Status::kPassed) << r.problem;
  EXPECT_LE(r.check.error, r.check.tolerance) << r.problem;
  double median = r.metrics.at("step_time").value;
  EXPECT_GT(median, 0);
  if (r.work.flops > 0) {
    EXPECT_NEAR(r.metrics.at("flops").value, r.work.flops / median, 1e-6 * r.work.flops / median);
  }
  if (r.work.bytes > 0) {
    EXPECT_NEAR(r.metrics.at("bandwidth").value, r.work.bytes / median,
                1e-6 * r.work.bytes / median);
  }
  if (r.metrics.count("pct_peak_compute")) {
    EXPECT_GT(r.metrics.at("pct_peak_compute").value, 0);
    EXPECT_LT(r.metrics.at("pct_peak_compute").value, 150) << "ceiling below achieved figure";
  }
}

TEST(Gemm, WorkCountsFollowTheFormulas) {
  auto w = Registry::instance().create(
      Registry::instance().resolve(Problem::parse("micro/gemm m=3 n=5 k=7 dtype=bf16")));
  WorkCounts work = w->work();
  EXPECT_DOUBLE_EQ(work.flops, 2.0 * 3 * 5 * 7);
  EXPECT_DOUBLE_EQ(work.bytes, (3 * 7 + 7 * 5 + 3 * 5) * 2.0);
  EXPECT_EQ(work.dtype, "bf16");
  EXPECT_EQ(work.primary_metric(), "flops");
}

class GemmDtypes : public ::testing::TestWithParam<const char*> {};

TEST_P(GemmDtypes, PassesItsCheck) {
  for (const char* layout : {"transa=n transb=n", "transa=t transb=n", "transa=n transb=t"}) {
    expect_sane(run(std::string("micro/gemm m=48 n=40 k=56 dtype=") + GetParam() + " " + layout));
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, GemmDtypes, ::testing::Values("fp32", "fp64", "bf16"));

TEST(Gemm, Fp16OnCpuIsPassedOrSkippedNeverFailed) {
  Result r = run("micro/gemm m=16 n=16 k=16 dtype=fp16");
  EXPECT_NE(r.status, Status::kFailed) << r.reason;
  if (r.status == Status::kSkipped) {
    EXPECT_NE(r.reason.find("not supported"), std::string::npos);
  }
}

TEST(Gemm, Tf32IsCudaOnly) {
  Result r = run("micro/gemm m=16 n=16 k=16 dtype=tf32");
  EXPECT_EQ(r.status, Status::kSkipped);
}

TEST(Stream, WorkCountsFollowStreamCounting) {
  struct Case {
    const char* kernel;
    double arrays, flops_per_element;
  };
  for (Case c : {Case{"copy", 2, 0}, Case{"scale", 2, 1}, Case{"add", 3, 1}, Case{"triad", 3, 2}}) {
    auto w = Registry::instance().create(Registry::instance().resolve(
        Problem::parse(std::string("micro/stream n=1000 dtype=fp32 kernel=") + c.kernel)));
    WorkCounts work = w->work();
    EXPECT_DOUBLE_EQ(work.bytes, c.arrays * 1000 * 4) << c.kernel;
    EXPECT_DOUBLE_EQ(work.flops, c.flops_per_element * 1000) << c.kernel;
    EXPECT_EQ(work.primary_metric(), "bandwidth");
  }
}

TEST(Stream, EveryKernelAndDtypePassesItsCheck) {
  for (const char* kernel : {"copy", "scale", "add", "triad"}) {
    for (const char* dtype : {"fp64", "fp32", "bf16"}) {
      expect_sane(run(std::string("micro/stream n=5000 kernel=") + kernel + " dtype=" + dtype));
    }
  }
}

TEST(Check, NanNeverPasses) {
  EXPECT_EQ(CheckOutcome::compare(NAN, 1.0, "x").status, CheckOutcome::Status::kFailed);
  EXPECT_EQ(CheckOutcome::compare(0.5, 1.0, "x").status, CheckOutcome::Status::kPassed);
  EXPECT_EQ(CheckOutcome::compare(2.0, 1.0, "x").status, CheckOutcome::Status::kFailed);
}

TEST(Dtype, SizesAndUnsupportedProbe) {
  EXPECT_EQ(dtype_bytes("fp64"), 8);
  EXPECT_EQ(dtype_bytes("tf32"), 4);
  EXPECT_EQ(dtype_bytes("bf16"), 2);
  EXPECT_THROW(scalar_type("fp7"), Error);
}

}  // namespace
}  // namespace dlbench
