// The typed values decisions take (DType, RunMode, Verdict) against the strings results and
// repro strings keep: every value prints and parses back, anything else is refused, and the
// per-dtype facts match the formats' definitions.
#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/problem.h"
#include "core/result.h"
#include "core/run_mode.h"

namespace dlbench {
namespace {

TEST(TypedNames, EveryDTypePrintsAndParsesBack) {
  for (DType dtype :
       {DType::kFp64, DType::kFp32, DType::kTf32, DType::kBf16, DType::kFp16, DType::kInt8}) {
    EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype) << dtype_name(dtype);
  }
  EXPECT_EQ(dtype_name(DType::kBf16), "bf16");
  EXPECT_EQ(parse_dtype("fp8"), std::nullopt);
  EXPECT_EQ(parse_dtype("FP32"), std::nullopt);  // names are lower case, as in repro strings
  EXPECT_THROW(dtype_named("fp8"), Error);
}

TEST(TypedNames, DTypeFactsFollowTheFormats) {
  // Significand bits: fp64 53, fp32 24, tf32 and fp16 11 (10 stored), bf16 8 (7 stored).
  EXPECT_EQ(unit_roundoff(DType::kFp64), std::ldexp(1.0, -53));
  EXPECT_EQ(unit_roundoff(DType::kFp32), std::ldexp(1.0, -24));
  EXPECT_EQ(unit_roundoff(DType::kTf32), std::ldexp(1.0, -11));
  EXPECT_EQ(unit_roundoff(DType::kFp16), std::ldexp(1.0, -11));
  EXPECT_EQ(unit_roundoff(DType::kBf16), std::ldexp(1.0, -8));
  EXPECT_EQ(unit_roundoff(DType::kInt8), 0);
  // tf32 is stored as fp32; the string and typed forms agree.
  EXPECT_EQ(dtype_bytes(DType::kTf32), 4);
  EXPECT_EQ(dtype_bytes("bf16"), 2);
  EXPECT_EQ(scalar_type("int8"), scalar_type(DType::kInt8));
  EXPECT_TRUE(is_half_precision(DType::kFp16));
  EXPECT_FALSE(is_half_precision(DType::kTf32));
}

TEST(TypedNames, RunModesPrintParseAndComeFromTheProblem) {
  for (RunMode mode : {RunMode::kTrain, RunMode::kInfer, RunMode::kQuality}) {
    EXPECT_EQ(parse_run_mode(mode_name(mode)), mode) << mode_name(mode);
  }
  EXPECT_EQ(parse_run_mode("serve"), std::nullopt);
  EXPECT_EQ(run_mode_of(Problem{"micro/gemm", {}}), std::nullopt);
  EXPECT_EQ(run_mode_of(Problem{"model/lenet", {{"mode", "infer"}}}), RunMode::kInfer);
  EXPECT_THROW(run_mode_of(Problem{"model/lenet", {{"mode", "serve"}}}), Error);
  EXPECT_TRUE(is_quality_run(Problem{"model/lenet", {{"mode", "quality"}}}));
  EXPECT_FALSE(is_quality_run(Problem{"model/lenet", {{"mode", "train"}}}));
  EXPECT_FALSE(is_quality_run(Problem{"micro/gemm", {}}));
}

TEST(TypedNames, EveryVerdictPrintsAndParsesBack) {
  for (Verdict verdict : {Verdict::kCompute, Verdict::kMemory, Verdict::kLatency, Verdict::kNeither,
                          Verdict::kUnknown, Verdict::kCommunication, Verdict::kInput,
                          Verdict::kAccelerator, Verdict::kNone}) {
    EXPECT_EQ(parse_verdict(verdict_name(verdict)), verdict) << verdict_name(verdict);
  }
  EXPECT_EQ(verdict_name(Verdict::kNone), "-");
  EXPECT_EQ(parse_verdict("cpu"), std::nullopt);
  // A results file with a verdict no version wrote is refused, not read as some other verdict.
  Result result;
  result.problem = result.workload = "x";
  result.bound = Bound{Verdict::kMemory, "93% of the bandwidth roof"};
  nlohmann::json record = to_json(result);
  EXPECT_EQ(result_from_json(record).bound->verdict, Verdict::kMemory);
  record["bound"]["verdict"] = "cpu";
  EXPECT_THROW(result_from_json(record), Error);
}

}  // namespace
}  // namespace dlbench
