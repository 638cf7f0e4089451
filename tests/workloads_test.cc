// Every micro workload at a tiny size on the CPU: it runs, its check passes, and its figures
// follow from its formulas.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "harness/runner.h"
#include "nn/check.h"
#include "test_util.h"

namespace dlbench {
namespace {

using testing::expect_sane;
Result run(const std::string& text) { return testing::run_problem(text); }

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

TEST(Check, TestSwitchesMakeTheCheckFail) {
  // A corrupted output and an impossible tolerance must both fail; unset, the same problem passes.
  const char* problem = "micro/gemm m=24 n=20 k=28 dtype=fp32";
  expect_sane(run(problem));
  {
    testing::ScopedEnv corrupt("DLBENCH_TEST_CORRUPT_OUTPUT", "1");
    Result r = run(problem);
    EXPECT_EQ(r.status, Status::kFailed);
    EXPECT_GT(r.check.error, 1.0) << r.check.detail;
    EXPECT_NE(r.check.detail.find("test switch"), std::string::npos);
  }
  {
    testing::ScopedEnv tight("DLBENCH_TEST_TOLERANCE_SCALE", "-1");
    EXPECT_EQ(run(problem).status, Status::kFailed);
  }
  expect_sane(run(problem));
}

TEST(Check, ToleranceGrowsWithReductionAndShrinksWithPrecision) {
  EXPECT_EQ(default_tolerance(DType::kInt8, 1000), 0);
  EXPECT_LT(default_tolerance(DType::kFp64, 1000), default_tolerance(DType::kFp32, 1000));
  EXPECT_LT(default_tolerance(DType::kFp32, 1000), default_tolerance(DType::kFp16, 1000));
  EXPECT_LT(default_tolerance(DType::kFp16, 1000), default_tolerance(DType::kBf16, 1000));
  EXPECT_LT(default_tolerance(DType::kFp32, 100), default_tolerance(DType::kFp32, 1e6));
  // bf16 output rounding: 2 x 2^-8 plus the fp32 accumulation term.
  EXPECT_NEAR(default_tolerance(DType::kBf16, 1),
              2 * std::ldexp(1.0, -8) + 8 * std::ldexp(1.0, -24), 1e-12);
}

TEST(Check, CheckCloseCatchesNanShapeAndError) {
  at::Tensor ref = at::arange(1, 7, at::kDouble).reshape({2, 3});
  EXPECT_EQ(check_close(ref.to(at::kFloat), ref, 1e-6, "x").status, CheckOutcome::Status::kPassed);
  at::Tensor off = ref.clone();
  off[0][0] = 2.0;  // error 1 against ||ref|| = sqrt(91)
  CheckOutcome outcome = check_close(off, ref, 1e-6, "x");
  EXPECT_EQ(outcome.status, CheckOutcome::Status::kFailed);
  EXPECT_NEAR(outcome.error, 1.0 / std::sqrt(91.0), 1e-12);
  at::Tensor poisoned = ref.clone();
  poison(poisoned);
  EXPECT_EQ(check_close(poisoned, ref, 1.0, "x").status, CheckOutcome::Status::kFailed);
  EXPECT_EQ(check_close(ref.reshape({3, 2}), ref, 1.0, "x").status, CheckOutcome::Status::kFailed);
}

/// The storage-accumulation probe agrees with a direct sum of ones in each layout: its cause is
/// non-empty exactly when some layout's product of 512 bf16 ones falls short of 512, and never
/// for fp32 / fp64. A failed fp64 check carries no cause.
TEST(Check, StorageAccumulationProbeOnlyProbesLowPrecision) {
  EXPECT_EQ(storage_accumulation_cause(at::kFloat, at::Device(at::kCPU)), "");
  EXPECT_EQ(storage_accumulation_cause(at::kDouble, at::Device(at::kCPU)), "");
  EXPECT_EQ(probe_storage_accumulation(at::kFloat, at::Device(at::kCPU)).n, 0);
  at::Tensor ref = at::ones({4}, at::kDouble);
  EXPECT_EQ(check_close(ref * 2, ref, 1e-6, "x").cause, "");
}

// The probe's own claim, on whatever kernels this CPU selects: each layout's reported sum is what
// the probe's own operands give, no sum exceeds n, and the cause names exactly the layouts that
// fell short (none on a library that accumulates in fp32).
TEST(Check, StorageAccumulationCauseNamesExactlyTheProbesShortLayouts) {
  const at::Device cpu(at::kCPU);
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    AccumulationProbe probe = probe_storage_accumulation(dtype, cpu);
    ASSERT_EQ(probe.n, dtype == at::kBFloat16 ? 512 : 4096);
    std::string cause = storage_accumulation_cause(dtype, cpu);
    if (probe.layouts.empty()) {  // the product is not supported in this dtype here
      EXPECT_EQ(cause, "");
      continue;
    }
    ASSERT_EQ(probe.layouts.size(), 4u);
    for (const AccumulationLayout& layout : probe.layouts) {
      auto [a, b] =
          accumulation_probe_operands(dtype, cpu, probe.n, layout.transpose_a, layout.transpose_b);
      EXPECT_EQ(a.size(0), 4);
      EXPECT_EQ(a.size(1), probe.n);
      EXPECT_EQ(b.size(0), probe.n);
      EXPECT_EQ(b.size(1), 4);
      double again = at::mm(a, b).to(at::kDouble).min().item<double>();
      EXPECT_EQ(again, layout.smallest_sum);
      EXPECT_LE(layout.smallest_sum, static_cast<double>(probe.n));
      EXPECT_GT(layout.smallest_sum, 0);
    }
    std::vector<AccumulationLayout> short_layouts = probe.short_layouts();
    EXPECT_EQ(!cause.empty(), !short_layouts.empty()) << cause;
    for (const AccumulationLayout& layout : short_layouts) {
      std::string named = std::string("A") + (layout.transpose_a ? "^T" : "") + " B" +
                          (layout.transpose_b ? "^T" : "") + " (sum " +
                          fmt::format("{:g}", layout.smallest_sum) + ")";
      EXPECT_NE(cause.find(named), std::string::npos) << named << " in " << cause;
    }
    if (!cause.empty()) {
      std::string name = dtype == at::kBFloat16 ? "bf16" : "fp16";
      EXPECT_NE(cause.find("accumulates in " + name), std::string::npos) << cause;
      EXPECT_NE(cause.find("of " + std::to_string(probe.n) + " ones"), std::string::npos) << cause;
    }
  }
}

TEST(Dtype, SizesAndUnsupportedProbe) {
  EXPECT_EQ(dtype_bytes("fp64"), 8);
  EXPECT_EQ(dtype_bytes("tf32"), 4);
  EXPECT_EQ(dtype_bytes("bf16"), 2);
  EXPECT_THROW(scalar_type("fp7"), Error);
}

}  // namespace
}  // namespace dlbench
