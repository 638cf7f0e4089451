// micro/attention: work counts by hand, every pass x dtype x mask x implementation passing its
// check, the default width, fp16 passed or skipped, and the implementation named.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

using testing::expect_sane;
using testing::run_problem;
using testing::work_of;

TEST(Attention, WorkCountsByHand) {
  // batch=2 heads=3 seq=5 kv_seq=7 head_dim=6: 35 pairs per head; 4*2*3*6*35 = 5040 FLOPs;
  // bytes fp32: 2*3*6*(2*5 + 2*7) = 864 elements = 3456. bwd 2.5x = 12600 FLOPs, 6912 bytes.
  const std::string shape = "micro/attention batch=2 heads=3 seq=5 kv_seq=7 head_dim=6";
  WorkCounts fwd = work_of(shape);
  EXPECT_DOUBLE_EQ(fwd.flops, 5040);
  EXPECT_DOUBLE_EQ(fwd.bytes, 3456);
  EXPECT_DOUBLE_EQ(fwd.samples, 2);
  EXPECT_EQ(fwd.sample_unit, "sequences");
  WorkCounts bwd = work_of(shape + " pass=bwd");
  EXPECT_DOUBLE_EQ(bwd.flops, 12600);
  EXPECT_DOUBLE_EQ(bwd.bytes, 6912);
  EXPECT_DOUBLE_EQ(work_of(shape + " dtype=bf16").bytes, 1728);
  // Causal, seq 5 <= kv_seq 7: rows see 1+2+3+4+5 = 15 keys; 4*36*15 = 2160.
  EXPECT_DOUBLE_EQ(work_of(shape + " causal=true").flops, 2160);
  // Causal, seq 7 > kv_seq 5: rows see 1+2+3+4+5+5+5 = 25 keys; 4*36*25 = 3600.
  EXPECT_DOUBLE_EQ(
      work_of("micro/attention batch=2 heads=3 seq=7 kv_seq=5 head_dim=6 causal=true").flops, 3600);
  // kv_seq=0 means kv_seq = seq: 5 x 5 = 25 pairs, 4*36*25 = 3600; causal 15 pairs, 2160.
  EXPECT_DOUBLE_EQ(work_of("micro/attention batch=2 heads=3 seq=5 head_dim=6").flops, 3600);
  EXPECT_DOUBLE_EQ(work_of("micro/attention batch=2 heads=3 seq=5 head_dim=6 causal=1").flops,
                   2160);
}

TEST(Attention, EveryPassDtypeMaskAndImplPassesItsCheck) {
  for (const char* impl : {"auto", "math"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      for (const char* dtype : {"fp32", "bf16"}) {
        for (const char* causal : {"false", "true"}) {
          for (const char* shape : {"seq=9 kv_seq=0", "seq=6 kv_seq=11", "seq=11 kv_seq=6"}) {
            expect_sane(run_problem(std::string("micro/attention batch=2 heads=3 head_dim=10 ") +
                                    shape + " impl=" + impl + " pass=" + pass + " dtype=" + dtype +
                                    " causal=" + causal));
          }
        }
      }
    }
  }
}

TEST(Attention, DefaultWidthPasses) {
  for (const char* pass : {"fwd", "bwd"}) {
    for (const char* dtype : {"fp32", "bf16"}) {
      expect_sane(run_problem(std::string("micro/attention batch=1 heads=2 seq=128 head_dim=64 "
                                          "causal=true pass=") +
                              pass + " dtype=" + dtype));
    }
  }
}

TEST(Attention, Fp16IsPassedOrSkippedNeverFailed) {
  for (const char* pass : {"fwd", "bwd"}) {
    Result r =
        run_problem(std::string("micro/attention batch=1 heads=2 seq=8 head_dim=8 dtype=fp16 "
                                "pass=") +
                    pass);
    EXPECT_NE(r.status, Status::kFailed) << r.reason;
    if (r.status == Status::kSkipped) {
      EXPECT_NE(r.reason.find("not supported"), std::string::npos) << r.reason;
    }
  }
}

TEST(Attention, DescribeNamesTheImplementation) {
  auto& registry = Registry::instance();
  auto w = registry.create(registry.resolve(Problem::parse("micro/attention impl=math")));
  bool found = false;
  for (auto& fact : w->describe().facts) {
    if (fact.first == "implementation") {
      found = true;
      EXPECT_NE(fact.second.find("math"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace dlbench
