// micro/norm, micro/pool and micro/activation: hand-computed work counts for odd shapes, every
// type x pass x dtype passing its check at tiny sizes, the corrupt switch failing them, and bad
// shapes rejected.
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
  const Registry& registry = Registry::instance();
  return registry.create(registry.resolve(Problem::parse(text)))->work();
}

void expect_rejected(const std::string& text) {
  const Registry& registry = Registry::instance();
  EXPECT_THROW(registry.create(registry.resolve(Problem::parse(text))), Error) << text;
}

void expect_passed_or_skipped(const std::string& text) {
  Result r = testing::run_problem(text);
  EXPECT_NE(r.status, Status::kFailed) << text << ": " << r.reason;
  if (r.status == Status::kSkipped) {
    EXPECT_NE(r.reason.find("not supported"), std::string::npos) << r.reason;
  } else {
    expect_sane(r);
  }
}

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
      expect_passed_or_skipped(std::string("micro/norm n=2 c=6 h=3 w=5 groups=3 dtype=fp16 type=") +
                               type + " pass=" + pass);
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
          expect_sane(testing::run_problem(
              std::string("micro/pool n=2 c=3 h=11 w=9 kernel=3 stride=2 pad=1 type=") + type +
              " pass=" + pass + " dtype=" + dtype + " layout=" + layout));
        }
      }
    }
  }
  // Overlapping stride-1 windows, an asymmetric window, and global average pooling.
  expect_sane(testing::run_problem(
      "micro/pool n=2 c=5 h=13 w=10 kernel=3 stride=1 pad=1 type=max pass=bwd dtype=bf16"));
  expect_sane(testing::run_problem(
      "micro/pool n=2 c=3 h=11 w=9 kernel=3x2 stride=2x1 pad=1x0 type=avg pass=bwd"));
  expect_sane(testing::run_problem(
      "micro/pool n=2 c=8 h=7 w=7 kernel=7 stride=1 pad=0 type=avg pass=fwd layout=nhwc"));
}

TEST(PoolChecks, Bf16MaxPoolOnAPlaneTooLargeForDistinctValuesIsStillTieFree) {
  // 200 x 190 = 38000 elements per plane: more than bf16's 32512 positive normal values, so the
  // inputs use the per-window residue-class scheme; the gradient check would catch a tie.
  expect_sane(testing::run_problem(
      "micro/pool n=1 c=2 h=200 w=190 kernel=3 stride=2 pad=1 type=max pass=bwd dtype=bf16"));
}

TEST(PoolChecks, Fp16IsPassedOrSkipped) {
  for (const char* type : {"max", "avg"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      expect_passed_or_skipped(std::string("micro/pool n=2 c=3 h=11 w=9 dtype=fp16 type=") + type +
                               " pass=" + pass);
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
        expect_sane(testing::run_problem(std::string("micro/activation elements=4099 type=") +
                                         type + " pass=" + pass + " dtype=" + dtype));
      }
    }
  }
}

TEST(ActivationChecks, Fp16IsPassedOrSkipped) {
  for (const char* type : {"relu", "gelu", "sigmoid", "tanh", "silu"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      expect_passed_or_skipped(std::string("micro/activation elements=1001 dtype=fp16 type=") +
                               type + " pass=" + pass);
    }
  }
}

TEST(ActivationChecks, BadValuesAreRejected) {
  expect_rejected("micro/activation elements=0");
  expect_rejected("micro/activation type=swish");
}

// ---------------------------------------------------------------------------------------------

TEST(MemoryLayers, CorruptSwitchMakesEachWorkloadFail) {
  const char* problems[] = {
      "micro/norm n=3 c=6 h=5 w=7 groups=3 type=group pass=fwd",
      "micro/norm n=3 c=6 h=5 w=7 type=batch pass=bwd",
      "micro/pool n=2 c=3 h=11 w=9 type=max pass=fwd",
      "micro/pool n=2 c=3 h=11 w=9 type=avg pass=bwd layout=nhwc",
      "micro/activation elements=1001 type=gelu pass=fwd",
      "micro/activation elements=1001 type=sigmoid pass=bwd",
  };
  for (const char* problem : problems) expect_sane(testing::run_problem(problem));
  testing::ScopedEnv corrupt("DLBENCH_TEST_CORRUPT_OUTPUT", "1");
  for (const char* problem : problems) {
    Result r = testing::run_problem(problem);
    EXPECT_EQ(r.status, Status::kFailed) << problem;
    EXPECT_NE(r.check.detail.find("test switch"), std::string::npos) << problem;
  }
}

}  // namespace
}  // namespace dlbench
