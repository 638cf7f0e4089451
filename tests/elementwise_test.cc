// micro/elementwise: work counts against hand-computed values, every op x dtype at tiny sizes,
// and rejected parameter values.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

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
// micro/elementwise

TEST(Elementwise, WorkCountsByHand) {
  // elements=1001. add fp32: FLOPs 1001, bytes 3*1001*4 = 12012.
  WorkCounts w = work_of("micro/elementwise op=add elements=1001");
  EXPECT_DOUBLE_EQ(w.flops, 1001);
  EXPECT_DOUBLE_EQ(w.bytes, 12012);
  EXPECT_DOUBLE_EQ(w.samples, 1001);
  EXPECT_EQ(w.primary_metric(), "bandwidth");
  // add_relu bf16: FLOPs 2002, bytes 3*1001*2 = 6006.
  w = work_of("micro/elementwise op=add_relu elements=1001 dtype=bf16");
  EXPECT_DOUBLE_EQ(w.flops, 2002);
  EXPECT_DOUBLE_EQ(w.bytes, 6006);
  // mul fp64: FLOPs 1001, bytes 3*1001*8 = 24024.
  w = work_of("micro/elementwise op=mul elements=1001 dtype=fp64");
  EXPECT_DOUBLE_EQ(w.flops, 1001);
  EXPECT_DOUBLE_EQ(w.bytes, 24024);
}

TEST(Elementwise, EveryOpAndDtypePassesItsCheck) {
  for (const char* op : {"add", "mul", "add_relu"}) {
    for (const char* dtype : {"fp32", "bf16", "fp64"}) {
      expect_sane(
          run_problem(std::string("micro/elementwise elements=5003 op=") + op + " dtype=" + dtype));
    }
    expect_passed_or_skipped(
        run_problem(std::string("micro/elementwise elements=5003 dtype=fp16 op=") + op));
  }
}

TEST(Elementwise, BadValuesAreRejected) {
  expect_rejected("micro/elementwise elements=0");
  expect_rejected("micro/elementwise op=sub");
  expect_rejected("micro/elementwise dtype=int8");
}

}  // namespace
}  // namespace dlbench
