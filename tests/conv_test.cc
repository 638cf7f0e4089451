// micro/conv: hand-computed work counts, every pass x dtype x layout passing its check at tiny
// sizes, the corrupt switch failing it, and bad shapes rejected.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

using testing::expect_sane;

WorkCounts work_of(const std::string& text) {
  return Registry::instance().create(Registry::instance().resolve(Problem::parse(text)))->work();
}

TEST(Conv, WorkCountsStrided2D) {
  // oh = floor((11 + 2 - 2 - 1) / 2) + 1 = 6, ow = floor((13 + 2 - 4 - 1) / 2) + 1 = 6.
  // FLOPs = 2 x 3 x 7 x 36 x 5 x 15 = 113400.
  // elements: input 3 x 5 x 11 x 13 = 2145, filter 7 x 5 x 3 x 5 = 525, output 3 x 7 x 36 = 756;
  // 3426 elements: 13704 bytes in fp32, 6852 in bf16.
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
    WorkCounts work = work_of(
        std::string("micro/conv dims=2 n=3 c=5 h=11 w=13 k=7 r=3 s=5 stride=2 pad=1 pass=") + pass);
    EXPECT_DOUBLE_EQ(work.flops, 113400) << pass;
    EXPECT_DOUBLE_EQ(work.bytes, 13704) << pass;
    EXPECT_DOUBLE_EQ(work.samples, 3);
    EXPECT_EQ(work.sample_unit, "images");
    EXPECT_EQ(work.dtype, "fp32");
    EXPECT_EQ(work.primary_metric(), "flops");
  }
  WorkCounts bf16 = work_of("micro/conv n=3 c=5 h=11 w=13 k=7 r=3 s=5 stride=2 pad=1 dtype=bf16");
  EXPECT_DOUBLE_EQ(bf16.bytes, 6852);
  EXPECT_EQ(bf16.dtype, "bf16");
}

TEST(Conv, WorkCountsGroupedDilated) {
  // Dilated 3x3 filter spans 5: oh = 9 - 5 + 1 = 5, ow = 10 - 5 + 1 = 6 (30 positions).
  // FLOPs = 2 x 2 x 9 x 30 x (6 / 3 = 2) x 9 = 19440.
  // elements: input 2 x 6 x 9 x 10 = 1080, filter 9 x 2 x 3 x 3 = 162, output 2 x 9 x 30 = 540;
  // 1782 x 8 bytes (fp64) = 14256.
  WorkCounts work = work_of(
      "micro/conv n=2 c=6 h=9 w=10 k=9 r=3 s=3 groups=3 dilation=2 pad=0 dtype=fp64 "
      "pass=bwd_weight");
  EXPECT_DOUBLE_EQ(work.flops, 19440);
  EXPECT_DOUBLE_EQ(work.bytes, 14256);
  EXPECT_EQ(work.dtype, "fp64");
}

TEST(Conv, WorkCounts3DWithPerAxisTuples) {
  // od = floor((7 + 2 - 2 - 1) / 2) + 1 = 4, oh = (9 - 3) + 1 = 7, ow = floor((8 + 2 - 2 - 1) / 2)
  // + 1 = 4 (112 positions). FLOPs = 2 x 2 x 5 x 112 x 3 x 27 = 181440.
  // elements: input 2 x 3 x 7 x 9 x 8 = 3024, filter 5 x 3 x 27 = 405, output 2 x 5 x 112 = 1120;
  // 4549 x 4 bytes = 18196.
  WorkCounts work =
      work_of("micro/conv dims=3 n=2 c=3 d=7 h=9 w=8 k=5 t=3 r=3 s=3 stride=2x1x2 pad=1x0x1");
  EXPECT_DOUBLE_EQ(work.flops, 181440);
  EXPECT_DOUBLE_EQ(work.bytes, 18196);
  EXPECT_DOUBLE_EQ(work.samples, 2);
}

TEST(Conv, DefaultIsTheResNet50Layer) {
  // 2 x 8 x 64 x 56 x 56 x 64 x 9 = 1849688064 FLOPs.
  EXPECT_DOUBLE_EQ(work_of("micro/conv").flops, 1849688064.0);
}

struct Sweep {
  const char* dtype;
  const char* layout;
};

class ConvPasses : public ::testing::TestWithParam<Sweep> {};

TEST_P(ConvPasses, EveryPassPassesItsCheck) {
  std::string suffix = std::string(" dtype=") + GetParam().dtype + " layout=" + GetParam().layout;
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
    std::string p = std::string(" pass=") + pass + suffix;
    // Strided and grouped 2-D; dilated with a non-square filter; 3-D with per-axis stride.
    expect_sane(testing::run_problem(
        "micro/conv n=2 c=6 h=9 w=11 k=4 r=3 s=3 stride=2 pad=1 groups=2" + p));
    expect_sane(
        testing::run_problem("micro/conv n=3 c=5 h=10 w=9 k=7 r=3 s=2 dilation=2x3 pad=2x1" + p));
    expect_sane(testing::run_problem(
        "micro/conv dims=3 n=2 c=3 d=7 h=6 w=5 k=4 t=3 r=3 s=3 stride=2x1x1 pad=1" + p));
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, ConvPasses,
                         ::testing::Values(Sweep{"fp32", "nchw"}, Sweep{"fp32", "nhwc"},
                                           Sweep{"bf16", "nchw"}, Sweep{"bf16", "nhwc"},
                                           Sweep{"fp64", "nchw"}, Sweep{"fp64", "nhwc"}),
                         [](const ::testing::TestParamInfo<Sweep>& info) {
                           return std::string(info.param.dtype) + "_" + info.param.layout;
                         });

TEST(Conv, Fp16IsPassedOrSkippedNeverFailed) {
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
    for (const char* dims : {"dims=2", "dims=3 d=5 t=3"}) {
      Result r = testing::run_problem(std::string("micro/conv n=2 c=4 h=6 w=7 k=3 dtype=fp16 ") +
                                      dims + " pass=" + pass);
      EXPECT_NE(r.status, Status::kFailed) << r.reason;
      if (r.status == Status::kSkipped) {
        EXPECT_NE(r.reason.find("not supported"), std::string::npos) << r.reason;
      } else {
        expect_sane(r);
      }
    }
  }
}

TEST(Conv, CorruptSwitchFailsTheCheck) {
  testing::ScopedEnv corrupt("DLBENCH_TEST_CORRUPT_OUTPUT", "1");
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
    Result r = testing::run_problem(std::string("micro/conv n=2 c=4 h=7 w=6 k=5 pass=") + pass);
    EXPECT_EQ(r.status, Status::kFailed) << pass;
    EXPECT_GT(r.check.error, 1.0) << r.check.detail;
  }
}

TEST(Conv, BadShapesAreRejected) {
  auto make = [](const std::string& text) {
    return Registry::instance().create(Registry::instance().resolve(Problem::parse(text)));
  };
  // Registry-level: out-of-range or malformed values.
  for (const char* bad :
       {"micro/conv dims=4", "micro/conv stride=0", "micro/conv dilation=0", "micro/conv pad=-1",
        "micro/conv groups=0", "micro/conv n=0", "micro/conv layout=nwhc", "micro/conv pass=bwd",
        "micro/conv stride=1x2x"}) {
    EXPECT_THROW(Registry::instance().resolve(Problem::parse(bad)), Error) << bad;
  }
  // Shape-level, from the constructor: empty output, groups not dividing c or k, depth with
  // dims=2, tuples with the wrong number of entries.
  for (const char* bad :
       {"micro/conv h=2 w=8 r=5 s=3 pad=0", "micro/conv h=9 w=9 r=3 s=3 pad=0 dilation=5",
        "micro/conv dims=3 d=2 t=3 pad=0", "micro/conv c=6 k=8 groups=4",
        "micro/conv c=8 k=6 groups=4", "micro/conv d=3", "micro/conv t=3",
        "micro/conv stride=1x2x2", "micro/conv dims=3 pad=1x2"}) {
    EXPECT_THROW(make(bad), Error) << bad;
  }
  // The boundary case: a filter exactly as large as the padded input gives one output.
  EXPECT_NO_THROW(make("micro/conv h=3 w=5 r=5 s=5 pad=1"));
  Result r = testing::run_problem("micro/conv h=2 w=8 r=5 s=3 pad=0");
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_NE(r.reason.find("output size"), std::string::npos) << r.reason;
}

}  // namespace
}  // namespace dlbench
