// Measured ceilings (`dlbench peak`), bound verdicts, problem lists and per-entry suite rules.
#include <gtest/gtest.h>

#include <fstream>

#include "analysis/bound.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "harness/suite.h"
#include "test_util.h"

namespace dlbench {
namespace {

using nlohmann::json;

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
  EXPECT_EQ(b->verdict, "unknown");
  EXPECT_NE(b->detail.find("compute 20%"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("layer/"), std::string::npos) << b->detail;
  // 70%: the counted FLOPs alone explain the time.
  work.flops = 7e9;
  b = classify_bound(work, 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, "compute");
}

TEST(Bound, SharesPickTheVerdict) {
  // 8e9 FLOP in 0.1 s against 100 GFLOP/s: compute share 0.8; 1e8 B against 20 GB/s: 0.05.
  auto b = classify_bound(counts(8e9, 1e8), 0.1, ceiling(100e9), ceiling(20e9));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->verdict, "compute");
  EXPECT_NE(b->detail.find("compute 80%"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("memory 5%"), std::string::npos) << b->detail;
  // 1.8e9 B in 0.1 s against 20 GB/s: memory share 0.9.
  b = classify_bound(counts(1e8, 1.8e9), 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, "memory");
  // Shares 0.3 and 0.2: neither ceiling explains the time, and without a dispatch floor that
  // is all that can be said.
  b = classify_bound(counts(3e9, 4e8), 0.1, ceiling(100e9), ceiling(20e9));
  EXPECT_EQ(b->verdict, "neither");
  EXPECT_NE(b->detail.find("neither ceiling (30% compute, 20% memory)"), std::string::npos)
      << b->detail;
  // Exactly at the threshold counts as bound.
  b = classify_bound(counts(5e9, 0), 0.1, ceiling(100e9), std::nullopt);
  EXPECT_EQ(b->verdict, "compute");
  // Bytes counted but no bandwidth ceiling and a low compute share: cannot say.
  b = classify_bound(counts(1e9, 1e9), 0.1, ceiling(100e9), std::nullopt);
  EXPECT_EQ(b->verdict, "unknown");
  EXPECT_FALSE(classify_bound(counts(0, 0), 0.1, ceiling(1), ceiling(1)));
  EXPECT_FALSE(classify_bound(counts(1, 1), 0.1, std::nullopt, std::nullopt));
}

TEST(Bound, LatencyOnlyWhenTheStepIsNearItsDispatchFloor) {
  // A 2048^3-class GEMM at 49% of the compute ceiling, 100 ms a step, 1 us a call: far above
  // its dispatch floor, so not latency-bound.
  auto b = classify_bound(counts(4.9e9, 1e6), 0.1, ceiling(100e9), ceiling(20e9),
                          DispatchFloor{1e-6, 1});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->verdict, "neither");
  EXPECT_NE(b->detail.find("49% compute"), std::string::npos) << b->detail;
  EXPECT_NE(b->detail.find("0% of the step"), std::string::npos) << b->detail;
  // A 2 us step of one call whose trivial call takes 1.5 us: the floor is 75% of the step.
  b = classify_bound(counts(32, 192), 2e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1.5e-6, 1});
  EXPECT_EQ(b->verdict, "latency");
  EXPECT_NE(b->detail.find("75% of the step"), std::string::npos) << b->detail;
  // Forty calls of 1 us in a 60 us step: 67% of it is dispatch.
  b = classify_bound(counts(1e3, 1e3), 60e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1e-6, 40});
  EXPECT_EQ(b->verdict, "latency");
  // Exactly at the share threshold counts as latency; a ceiling share above it still wins.
  b = classify_bound(counts(1e3, 1e3), 2e-6, ceiling(100e9), ceiling(20e9), DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, "latency");
  b = classify_bound(counts(1.5e5, 1e3), 2e-6, ceiling(100e9), ceiling(20e9),
                     DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, "compute");
  // A missing bandwidth ceiling and no floor evidence: unknown, not latency.
  b = classify_bound(counts(1e3, 1e3), 1e-3, ceiling(100e9), std::nullopt, DispatchFloor{1e-6, 1});
  EXPECT_EQ(b->verdict, "unknown");
}

TEST(ProblemLists, SuiteEntriesExpandListsWithParamsAndRules) {
  std::string dir = testing::temp_dir();
  testing::write_file(dir + "/shapes.txt",
                      "# a comment\n\nmicro/gemm m=8 n=8 k=8\n  micro/gemm m=4 n=4 k=4 \n");
  testing::write_file(dir + "/s.yaml",
                      "name: lists\nrun: {min_time: 0.5}\nproblems:\n"
                      "  - inputs: " +
                          dir +
                          "/shapes.txt\n    params: {dtype: bf16}\n"
                          "    timeout: 30\n"
                          "  - problem: micro/gemm m=2 n=2 k=2\n    run: {repeats: 1}\n");
  Suite suite = load_suite(dir + "/s.yaml");
  ASSERT_EQ(suite.entries.size(), 3u);
  EXPECT_EQ(suite.entries[0].problem.params.at("dtype"), "bf16");
  EXPECT_EQ(suite.entries[1].problem.params.at("m"), "4");
  EXPECT_EQ(*suite.entries[1].timeout, 30);
  EXPECT_EQ(suite.entries[2].run.at("repeats"), 1);
  EXPECT_EQ(suite.run.at("min_time"), 0.5);

  testing::write_file(dir + "/bad.txt", "micro/gemm m=8\nmicro/gemm oops\n");
  try {
    load_problem_list(dir + "/bad.txt");
    FAIL() << "a malformed line must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_problem_list(dir + "/missing.txt"), Error);
  testing::write_file(dir + "/bad.yaml",
                      "name: x\nproblems:\n  - inputs: " + dir + "/shapes.txt\n    dtype: x\n");
  EXPECT_THROW(load_suite(dir + "/bad.yaml"), Error);
}

TEST(ProblemLists, EveryShippedListResolves) {
  // Every line of every list under inputs/ names a registered workload with valid values.
  size_t total = 0;
  for (const char* kind : {"gemm", "conv", "rnn"}) {
    for (const char* set : {"train", "inference-server", "inference-device"}) {
      std::string name = std::string("deepbench/") + kind + "-" + set + ".txt";
      for (const Problem& problem : load_problem_list(name)) {
        EXPECT_NO_THROW(Registry::instance().resolve(problem)) << name << ": " << problem.str();
        ++total;
      }
    }
  }
  EXPECT_EQ(total, 589u);
}

TEST(Peak, MeasuresCachesAndFeedsLaterRuns) {
  std::string dir = testing::temp_dir();
  testing::ScopedEnv cache("DLBENCH_CACHE_DIR", (dir + "/cache").c_str());
  testing::ScopedEnv measure("DLBENCH_NO_PEAK", "0");
  testing::ScopedEnv quick("DLBENCH_PEAK_QUICK", "1");
  testing::Command peak = testing::dlbench("peak --quick --format json");
  ASSERT_EQ(peak.exit_code, 0) << peak.err << peak.out;
  json measured = json::parse(peak.out);
  ASSERT_TRUE(measured["compute"].contains("fp32")) << peak.out;
  EXPECT_GT(measured["compute"]["fp32"]["flops"].get<double>(), 0);
  EXPECT_EQ(measured["compute"]["fp32"]["source"], "measured");
  EXPECT_GT(measured["bandwidth"]["bytes_per_s"].get<double>(), 0);
  // Theoretical figures sit beside the measured ones, and the percentage is theirs (whatever
  // this CPU's rate table says; a figure above it is the ceiling sanity check's to flag).
  const json& fp32 = measured["compute"]["fp32"];
  if (fp32.contains("theoretical")) {
    EXPECT_NEAR(fp32["pct_of_theoretical"].get<double>(),
                100 * fp32["flops"].get<double>() / fp32["theoretical"].get<double>(), 1e-6);
  }
  std::ifstream cached(measured["cache_file"].get<std::string>());
  EXPECT_TRUE(cached.good());

  // Quick rules make provisional ceilings.
  json cached_json = json::parse(testing::read_text(measured["cache_file"].get<std::string>()));
  EXPECT_EQ(cached_json["provisional"], true);
  // A second quick call reads the cache (no measuring line; a full `peak` would measure the
  // provisional ceilings again), and a run uses the measured ceilings.
  testing::Command again = testing::dlbench("peak --quick");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.err.find("measuring"), std::string::npos) << again.err;
  testing::Command run = testing::dlbench(
      "run micro/gemm m=128 n=128 k=128 --min-time 0 --min-steps 2 --repeats 1 --warmup-time 0 "
      "--format json -o " +
      dir + "/r.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json doc = json::parse(run.out);
  EXPECT_TRUE(doc["context"]["measured_ceilings"].contains("cpu"));
  const json& record = doc["results"][0];
  EXPECT_EQ(record["ceilings"]["compute"]["source"], "measured");
  EXPECT_EQ(record["ceilings"]["bandwidth"]["source"], "measured");
  EXPECT_TRUE(record["bound"].is_object());
  EXPECT_TRUE(record["metrics"].contains("pct_theoretical_compute"));
}

}  // namespace
}  // namespace dlbench
