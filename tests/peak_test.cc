// dlbench peak: measures the ceilings, caches them, and later runs use them.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "test_util.h"

namespace dlbench {
namespace {

using nlohmann::json;

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
