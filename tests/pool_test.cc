// micro/pool: hand-computed work counts for an odd shape, every type x pass x dtype x layout
// passing its check, bf16 max pooling kept tie-free, fp16 passed or skipped, and bad shapes
// rejected.
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
// micro/pool

TEST(PoolWork, HandCountedForAnOddShape) {
  // n=2 c=3 h=11 w=9 kernel=3 stride=2 pad=1: oh = (11 + 2 - 3) / 2 + 1 = 6,
  // ow = (9 + 2 - 3) / 2 + 1 = 5; inputs 2 x 3 x 99 = 594, outputs 2 x 3 x 30 = 180, K = 9.
  const std::string shape = "micro/pool n=2 c=3 h=11 w=9 kernel=3 stride=2 pad=1 ";
  // fwd (max or avg), fp32: 9 x 180 = 1620 FLOPs; (594 + 180) x 4 = 3096 B.
  for (const char* type : {"max", "avg"}) {
    for (const char* layout : {"nchw", "nhwc"}) {
      WorkCounts work = work_of(shape + "pass=fwd dtype=fp32 type=" + type + " layout=" + layout);
      EXPECT_DOUBLE_EQ(work.flops, 1620) << type;
      EXPECT_DOUBLE_EQ(work.bytes, 3096) << type;
      EXPECT_EQ(work.primary_metric(), "bandwidth");
      EXPECT_DOUBLE_EQ(work.samples, 2);
    }
  }
  // max bwd, fp32: 180 FLOPs; 180 x 4 + 180 x 8 + 594 x 4 = 720 + 1440 + 2376 = 4536 B.
  WorkCounts max_bwd = work_of(shape + "pass=bwd dtype=fp32 type=max");
  EXPECT_DOUBLE_EQ(max_bwd.flops, 180);
  EXPECT_DOUBLE_EQ(max_bwd.bytes, 4536);
  // avg bwd, bf16: 10 x 180 = 1800 FLOPs; (180 + 594) x 2 = 1548 B.
  WorkCounts avg_bwd = work_of(shape + "pass=bwd dtype=bf16 type=avg");
  EXPECT_DOUBLE_EQ(avg_bwd.flops, 1800);
  EXPECT_DOUBLE_EQ(avg_bwd.bytes, 1548);
  // kernel 3x2 stride 2x1 pad 1x0: oh = 6, ow = (9 - 2) / 1 + 1 = 8; outputs 2 x 3 x 48 = 288;
  // 6 x 288 = 1728 FLOPs; (594 + 288) x 4 = 3528 B.
  WorkCounts tuple = work_of(
      "micro/pool n=2 c=3 h=11 w=9 kernel=3x2 stride=2x1 pad=1x0 pass=fwd dtype=fp32 type=max");
  EXPECT_DOUBLE_EQ(tuple.flops, 1728);
  EXPECT_DOUBLE_EQ(tuple.bytes, 3528);
  // Global average pooling 7x7 -> 1x1: outputs 6, 49 x 6 = 294 FLOPs; (294 + 6) x 4 = 1200 B.
  WorkCounts global =
      work_of("micro/pool n=2 c=3 h=7 w=7 kernel=7 stride=1 pad=0 type=avg dtype=fp32");
  EXPECT_DOUBLE_EQ(global.flops, 294);
  EXPECT_DOUBLE_EQ(global.bytes, 1200);
}

TEST(PoolChecks, EveryTypePassDtypeAndLayoutPasses) {
  for (const char* type : {"max", "avg"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      for (const char* dtype : {"fp32", "bf16", "fp64"}) {
        for (const char* layout : {"nchw", "nhwc"}) {
          expect_sane(
              run_problem(std::string("micro/pool n=2 c=3 h=11 w=9 kernel=3 stride=2 pad=1 type=") +
                          type + " pass=" + pass + " dtype=" + dtype + " layout=" + layout));
        }
      }
    }
  }
  // Overlapping stride-1 windows, an asymmetric window, and global average pooling.
  expect_sane(run_problem(
      "micro/pool n=2 c=5 h=13 w=10 kernel=3 stride=1 pad=1 type=max pass=bwd dtype=bf16"));
  expect_sane(
      run_problem("micro/pool n=2 c=3 h=11 w=9 kernel=3x2 stride=2x1 pad=1x0 type=avg pass=bwd"));
  expect_sane(run_problem(
      "micro/pool n=2 c=8 h=7 w=7 kernel=7 stride=1 pad=0 type=avg pass=fwd layout=nhwc"));
}

TEST(PoolChecks, Bf16MaxPoolOnAPlaneTooLargeForDistinctValuesIsStillTieFree) {
  // 200 x 190 = 38000 elements per plane: more than bf16's 32512 positive normal values, so the
  // inputs use the per-window residue-class scheme; the gradient check would catch a tie.
  expect_sane(run_problem(
      "micro/pool n=1 c=2 h=200 w=190 kernel=3 stride=2 pad=1 type=max pass=bwd dtype=bf16"));
}

TEST(PoolChecks, Fp16IsPassedOrSkipped) {
  for (const char* type : {"max", "avg"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      expect_passed_or_skipped(run_problem(
          std::string("micro/pool n=2 c=3 h=11 w=9 dtype=fp16 type=") + type + " pass=" + pass));
    }
  }
}

TEST(PoolChecks, BadShapesAreRejected) {
  expect_rejected("micro/pool kernel=3 pad=2");               // pad > kernel / 2
  expect_rejected("micro/pool kernel=3x4 pad=1x3");           // along the width only
  expect_rejected("micro/pool h=2 w=9 kernel=5 pad=1");       // 2 + 2 - 5 < 0: empty output
  expect_rejected("micro/pool kernel=3x3x2 stride=2 pad=1");  // 3-D window on a 2-D pool
  expect_rejected("micro/pool stride=0");
  expect_rejected("micro/pool kernel=0");
  expect_rejected("micro/pool layout=nhcw");
  EXPECT_NO_THROW(work_of("micro/pool h=5 w=5 kernel=5 stride=1 pad=0"));  // a 1 x 1 output
}

}  // namespace
}  // namespace dlbench
