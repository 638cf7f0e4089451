// micro/norm: hand-computed work counts for an odd shape, every type x pass x dtype passing its
// check at tiny sizes, fp16 passed or skipped, and bad shapes rejected.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

using testing::expect_passed_or_skipped;
using testing::expect_rejected;
using testing::expect_sane;
using testing::run_problem;
using testing::work_of;

// ---------------------------------------------------------------------------------------------
// micro/norm

TEST(NormWork, HandCountedForAnOddShape) {
  // n=3 c=6 h=5 w=7 groups=3: N = n c h w = 630, D = c h w = 210, n groups = 9; fp32 (4 B).
  const std::string shape = "micro/norm n=3 c=6 h=5 w=7 groups=3 dtype=fp32 ";
  struct Case {
    const char* params;
    double flops, bytes;
  };
  const Case cases[] = {
      // batch train fwd: 5 x 630 = 3150; (1260 + 8 x 6) x 4 = 5232
      {"type=batch train=true pass=fwd", 3150, 5232},
      // batch eval fwd: 2 x 630 = 1260; (1260 + 4 x 6) x 4 = 5136
      {"type=batch train=false pass=fwd", 1260, 5136},
      // batch train bwd: 7 x 630 = 4410; (1890 + 5 x 6) x 4 = 7680
      {"type=batch train=true pass=bwd", 4410, 7680},
      // batch eval bwd: 4 x 630 = 2520; 7680
      {"type=batch train=false pass=bwd", 2520, 7680},
      // layer fwd: 7 x 630 = 4410; (1260 + 420 + 6) x 4 = 6744
      {"type=layer pass=fwd", 4410, 6744},
      // layer bwd: 13 x 630 = 8190; (1890 + 630 + 6) x 4 = 10104
      {"type=layer pass=bwd", 8190, 10104},
      // group fwd: 5 x 630 = 3150; (1260 + 12 + 18) x 4 = 5160
      {"type=group pass=fwd", 3150, 5160},
      // group bwd: 7 x 630 = 4410; (1890 + 18 + 18) x 4 = 7704
      {"type=group pass=bwd", 4410, 7704},
      // lrn size 5 fwd: 9 x 630 = 5670; 1260 x 4 = 5040
      {"type=lrn size=5 pass=fwd", 5670, 5040},
      // lrn size 5 bwd: 19 x 630 = 11970; 1890 x 4 = 7560
      {"type=lrn size=5 pass=bwd", 11970, 7560},
      // lrn size 3 fwd: 7 x 630 = 4410
      {"type=lrn size=3 pass=fwd", 4410, 5040},
  };
  for (const Case& c : cases) {
    WorkCounts work = work_of(shape + c.params);
    EXPECT_DOUBLE_EQ(work.flops, c.flops) << c.params;
    EXPECT_DOUBLE_EQ(work.bytes, c.bytes) << c.params;
    EXPECT_EQ(work.primary_metric(), "bandwidth") << c.params;
    EXPECT_DOUBLE_EQ(work.samples, 3) << c.params;
  }
  // bf16 halves the bytes: group bwd 7704 / 2 = 3852.
  EXPECT_DOUBLE_EQ(
      work_of("micro/norm n=3 c=6 h=5 w=7 groups=3 type=group pass=bwd dtype=bf16").bytes, 3852);
}

TEST(NormChecks, EveryTypePassAndDtypePasses) {
  for (const char* type : {"type=batch train=true", "type=batch train=false", "type=layer",
                           "type=group", "type=lrn"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      for (const char* dtype : {"fp32", "bf16", "fp64"}) {
        expect_sane(testing::run_problem(std::string("micro/norm n=3 c=6 h=5 w=7 groups=3 ") +
                                         type + " pass=" + pass + " dtype=" + dtype));
      }
    }
  }
  // A transformer's layer norm (h = w = 1) and an LRN window wider than the channel count.
  expect_sane(testing::run_problem("micro/norm type=layer n=37 c=96 h=1 w=1 pass=bwd"));
  expect_sane(testing::run_problem("micro/norm type=lrn n=2 c=3 h=4 w=5 size=7 pass=bwd"));
}

TEST(NormChecks, Fp16IsPassedOrSkipped) {
  for (const char* type : {"batch", "layer", "group", "lrn"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      expect_passed_or_skipped(
          run_problem(std::string("micro/norm n=2 c=6 h=3 w=5 groups=3 dtype=fp16 type=") + type +
                      " pass=" + pass));
    }
  }
}

TEST(NormChecks, BadShapesAreRejected) {
  expect_rejected("micro/norm type=group c=6 groups=4");            // groups must divide c
  expect_rejected("micro/norm type=batch train=true n=1 h=1 w=1");  // one value per channel
  expect_rejected("micro/norm type=norm");
  expect_rejected("micro/norm size=0");
  // Other types ignore groups, and inference batch norm may see one value per channel.
  EXPECT_NO_THROW(work_of("micro/norm type=layer c=6 groups=4"));
  EXPECT_NO_THROW(work_of("micro/norm type=batch train=false n=1 h=1 w=1"));
}

}  // namespace
}  // namespace dlbench
