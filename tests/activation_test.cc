// micro/activation: hand-computed work counts per function, every type x pass x dtype passing
// its check, fp16 passed or skipped, and bad values rejected.
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
// micro/activation

TEST(ActivationWork, HandCountedPerFunction) {
  // 1001 elements. fwd bytes: 2 x 1001 x 4 = 8008 (fp32); bwd: 3 x 1001 x 2 = 6006 (bf16).
  struct Case {
    const char* params;
    double flops, bytes;
  };
  const Case cases[] = {
      {"type=relu pass=fwd dtype=fp32", 1001, 8008},     // 1 per element
      {"type=sigmoid pass=fwd dtype=fp32", 4004, 8008},  // 4
      {"type=tanh pass=fwd dtype=fp32", 5005, 8008},     // 5
      {"type=gelu pass=fwd dtype=fp32", 5005, 8008},     // 5
      {"type=silu pass=fwd dtype=fp32", 5005, 8008},     // 5
      {"type=relu pass=bwd dtype=bf16", 1001, 6006},     // 1
      {"type=sigmoid pass=bwd dtype=bf16", 3003, 6006},  // 3
      {"type=tanh pass=bwd dtype=bf16", 3003, 6006},     // 3
      {"type=gelu pass=bwd dtype=bf16", 11011, 6006},    // 11
      {"type=silu pass=bwd dtype=fp64", 9009, 24024},    // 9; 3 x 1001 x 8 = 24024
  };
  for (const Case& c : cases) {
    WorkCounts work = work_of(std::string("micro/activation elements=1001 ") + c.params);
    EXPECT_DOUBLE_EQ(work.flops, c.flops) << c.params;
    EXPECT_DOUBLE_EQ(work.bytes, c.bytes) << c.params;
    EXPECT_DOUBLE_EQ(work.samples, 1001) << c.params;
    EXPECT_EQ(work.primary_metric(), "bandwidth") << c.params;
  }
}

TEST(ActivationChecks, EveryTypePassAndDtypePasses) {
  for (const char* type : {"relu", "gelu", "sigmoid", "tanh", "silu"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      for (const char* dtype : {"fp32", "bf16", "fp64"}) {
        expect_sane(run_problem(std::string("micro/activation elements=4099 type=") + type +
                                " pass=" + pass + " dtype=" + dtype));
      }
    }
  }
}

TEST(ActivationChecks, Fp16IsPassedOrSkipped) {
  for (const char* type : {"relu", "gelu", "sigmoid", "tanh", "silu"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      expect_passed_or_skipped(run_problem(
          std::string("micro/activation elements=1001 dtype=fp16 type=") + type + " pass=" + pass));
    }
  }
}

TEST(ActivationChecks, BadValuesAreRejected) {
  expect_rejected("micro/activation elements=0");
  expect_rejected("micro/activation type=swish");
}

}  // namespace
}  // namespace dlbench
