// analysis/bound: the roofline verdict from the compute and memory shares, latency only near the
// dispatch floor, and partial accounting never claiming latency.
#include <gtest/gtest.h>

#include <fstream>

#include "analysis/bound.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "test_util.h"

namespace dlbench {
namespace {

Ceiling ceiling(double value, const char* source = "measured") {
  return Ceiling{value, source, "test"};
}

WorkCounts counts(double flops, double bytes) {
  WorkCounts w;
  w.flops = flops;
  w.bytes = bytes;
  return w;
}

TEST(Bound, PartialAccountingNeverClaimsLatency) {
  // A whole model counts GEMM FLOPs only: 20% of the ceiling says nothing about the rest.
  WorkCounts work = counts(2e9, 0);
  work.partial_accounting = true;
  auto b = classify_bound(work, 0.1, ceiling(100e9), ceiling(20e9));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->verdict, Verdict::kUnknown);
  EXPECT_NE(b->detail.find("compute 20%"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("layer/"), std::string::npos) << b->detail;
  // 70%: the counted FLOPs alone explain the time.
  work.flops = 7e9;
  b = classify_bound(work, 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, Verdict::kCompute);
}

TEST(Bound, SharesPickTheVerdict) {
  // 8e9 FLOP in 0.1 s against 100 GFLOP/s: compute share 0.8; 1e8 B against 20 GB/s: 0.05.
  auto b = classify_bound(counts(8e9, 1e8), 0.1, ceiling(100e9), ceiling(20e9));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->verdict, Verdict::kCompute);
  EXPECT_NE(b->detail.find("compute 80%"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("memory 5%"), std::string::npos) << b->detail;
  // 1.8e9 B in 0.1 s against 20 GB/s: memory share 0.9.
  b = classify_bound(counts(1e8, 1.8e9), 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, Verdict::kMemory);
  // Shares 0.3 and 0.2: neither ceiling explains the time, and without a dispatch floor that
  // is all that can be said.
  b = classify_bound(counts(3e9, 4e8), 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, Verdict::kNeither);
  EXPECT_NE(b->detail.find("neither ceiling (30% compute, 20% memory)"), std::string::npos)
      << b->detail;
  // Exactly at the threshold counts as bound.
  b = classify_bound(counts(5e9, 0), 0.1, ceiling(100e9), std::nullopt);
  EXPECT_EQ(b->verdict, Verdict::kCompute);
  // Bytes counted but no bandwidth ceiling and a low compute share: cannot say.
  b = classify_bound(counts(1e9, 1e9), 0.1, ceiling(100e9), std::nullopt);
  EXPECT_EQ(b->verdict, Verdict::kUnknown);
  EXPECT_FALSE(classify_bound(counts(0, 0), 0.1, ceiling(1), ceiling(1)));
  EXPECT_FALSE(classify_bound(counts(1, 1), 0.1, std::nullopt, std::nullopt));
}

TEST(Bound, LatencyOnlyWhenTheStepIsNearItsDispatchFloor) {
  // A 2048^3-class GEMM at 49% of the compute ceiling, 100 ms a step, 1 us a call: far above
  // its dispatch floor, so not latency-bound.
  auto b = classify_bound(counts(4.9e9, 1e6), 0.1, ceiling(100e9), ceiling(20e9),
                          DispatchFloor{1e-6, 1});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->verdict, Verdict::kNeither);
  EXPECT_NE(b->detail.find("49% compute"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("0% of the step"), std::string::npos) << b->detail;
  // A 2 us step of one call whose trivial call takes 1.5 us: the floor is 75% of the step.
  b = classify_bound(counts(32, 192), 2e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1.5e-6, 1});
  EXPECT_EQ(b->verdict, Verdict::kLatency);
  EXPECT_NE(b->detail.find("75% of the step"), std::string::npos) << b->detail;
  // Forty calls of 1 us in a 60 us step: 67% of it is dispatch.
  b = classify_bound(counts(1e3, 1e3), 60e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1e-6, 40});
  EXPECT_EQ(b->verdict, Verdict::kLatency);
  // Exactly at the share threshold counts as latency; a ceiling share above it still wins.
  b = classify_bound(counts(1e3, 1e3), 2e-6, ceiling(100e9), ceiling(20e9), DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, Verdict::kLatency);
  b = classify_bound(counts(1.5e5, 1e3), 2e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, Verdict::kCompute);
  // A missing bandwidth ceiling and no floor evidence: unknown, not latency.
  b = classify_bound(counts(1e3, 1e3), 1e-3, ceiling(100e9), std::nullopt, DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, Verdict::kUnknown);
}

}  // namespace
}  // namespace dlbench
