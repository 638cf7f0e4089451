// micro/softmax: work counts against hand-computed values, every pass x dtype at tiny sizes, and
// rejected parameter values.
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
// micro/softmax

TEST(Softmax, WorkCountsByHand) {
  // rows=3 cols=7: 21 elements. fwd fp32: FLOPs 5*21 = 105, bytes 2*21*4 = 168.
  WorkCounts w = work_of("micro/softmax rows=3 cols=7");
  EXPECT_DOUBLE_EQ(w.flops, 105);
  EXPECT_DOUBLE_EQ(w.bytes, 168);
  EXPECT_DOUBLE_EQ(w.samples, 3);
  EXPECT_EQ(w.primary_metric(), "bandwidth");
  // log fwd fp64: FLOPs 105 + 3 logs = 108, bytes 2*21*8 = 336.
  w = work_of("micro/softmax rows=3 cols=7 log=true dtype=fp64");
  EXPECT_DOUBLE_EQ(w.flops, 108);
  EXPECT_DOUBLE_EQ(w.bytes, 336);
  // bwd bf16: FLOPs 4*21 = 84, bytes 3*21*2 = 126.
  w = work_of("micro/softmax rows=3 cols=7 pass=bwd dtype=bf16");
  EXPECT_DOUBLE_EQ(w.flops, 84);
  EXPECT_DOUBLE_EQ(w.bytes, 126);
}

TEST(Softmax, EveryPassAndDtypePassesItsCheck) {
  for (const char* pass : {"fwd", "bwd"}) {
    for (const char* log : {"false", "true"}) {
      for (const char* dtype : {"fp32", "bf16", "fp64"}) {
        expect_sane(run_problem(std::string("micro/softmax rows=37 cols=129 pass=") + pass +
                                " log=" + log + " dtype=" + dtype));
      }
      expect_passed_or_skipped(run_problem(
          std::string("micro/softmax rows=37 cols=129 dtype=fp16 pass=") + pass + " log=" + log));
    }
  }
}

TEST(Softmax, BadValuesAreRejected) {
  expect_rejected("micro/softmax cols=0");
  expect_rejected("micro/softmax rows=0");
  expect_rejected("micro/softmax log=maybe");
  expect_rejected("micro/softmax pass=bwd_data");
}

}  // namespace
}  // namespace dlbench
