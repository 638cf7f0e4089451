// The results JSON contract: required keys, round trip, atomic save, rejection of bad files.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "core/system_info.h"
#include "harness/context.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

using nlohmann::json;

Result sample_result() {
  return run_in_process(Registry::instance().resolve(Problem::parse("micro/gemm m=32 n=16 k=8")),
                        testing::fast_options());
}

TEST(ResultJson, HasTheContractKeys) {
  json j = to_json(sample_result());
  for (const char* key : {"problem", "workload", "params", "status", "reason", "metrics", "work"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"flops_per_step", "bytes_per_step", "samples_per_step"}) {
    EXPECT_TRUE(j["work"].contains(key)) << key;
  }
  EXPECT_EQ(j["status"], "PASSED");
  EXPECT_DOUBLE_EQ(j["work"]["flops_per_step"].get<double>(), 2.0 * 32 * 16 * 8);
  const json& step = j["metrics"]["step_time"];
  EXPECT_EQ(step["unit"], "s");
  for (const char* key : {"median", "mean", "min", "max", "p50", "p90", "p99", "stddev", "cv"}) {
    EXPECT_TRUE(step["stats"].contains(key)) << key;
  }
  EXPECT_TRUE(step["samples"].is_array());
  EXPECT_EQ(j["check"]["status"], "passed");
}

TEST(ResultJson, RoundTrips) {
  Result r = sample_result();
  Result back = result_from_json(json::parse(to_json(r).dump()));
  EXPECT_EQ(to_json(back), to_json(r));
}

TEST(ResultJson, NanIsWrittenAsNull) {
  Result r;
  r.problem = "x";
  r.workload = "x";
  r.set_metric("weird", NAN, "s", "lower");
  json j = to_json(r);
  EXPECT_TRUE(j["metrics"]["weird"]["value"].is_null());
  EXPECT_TRUE(std::isnan(result_from_json(j).metrics.at("weird").value));
}

TEST(ResultsDocument, SavesAtomicallyAndLoads) {
  std::string dir = testing::temp_dir();
  std::string path = dir + "/r.json";
  ResultsDocument doc;
  doc.context = collect_context();
  doc.results.push_back(sample_result());
  doc.save(path);
  doc.results.push_back(sample_result());
  doc.save(path);  // overwrite in place
  ResultsDocument loaded = ResultsDocument::load(path);
  EXPECT_EQ(loaded.results.size(), 2u);
  EXPECT_EQ(loaded.results[0].problem, doc.results[0].problem);
  json raw = json::parse(std::ifstream(path));
  EXPECT_EQ(raw["schema_version"], kSchemaVersion);
  for (const char* key : {"host", "cpu", "memory", "libraries", "threads", "build", "ceilings"}) {
    EXPECT_TRUE(raw["context"].contains(key)) << key;
  }
  EXPECT_EQ(raw["context"]["libraries"]["blas"]["name"], active_blas().name);
}

TEST(ResultsDocument, RejectsBadFiles) {
  std::string dir = testing::temp_dir();
  EXPECT_THROW(ResultsDocument::load(dir + "/missing.json"), Error);
  testing::write_file(dir + "/text.json", "not json at all");
  EXPECT_THROW(ResultsDocument::load(dir + "/text.json"), Error);
  testing::write_file(dir + "/other.json", R"({"hello": 1})");
  EXPECT_THROW(ResultsDocument::load(dir + "/other.json"), Error);
  testing::write_file(dir + "/future.json", R"({"schema_version": "9.0", "results": []})");
  EXPECT_THROW(ResultsDocument::load(dir + "/future.json"), Error);
  testing::write_file(dir + "/broken.json",
                      R"({"schema_version": "1.0", "results": [{"problem": "x"}]})");
  EXPECT_THROW(ResultsDocument::load(dir + "/broken.json"), Error);
}

}  // namespace
}  // namespace dlbench
