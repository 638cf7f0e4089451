// The shape of a results file, held still: a dry run of the quick suite must give the same repro
// strings, in the same order, and the same keys in every record as the committed fixture
// (tests/data/quick-dry-run-shape.json), so that a change inside the harness cannot drop, rename
// or add a field of the results silently. Values are not compared (they are the machine's), and
// subtrees whose keys depend on the machine (its ceilings, the conditions it measured, the
// sanity flags its figures earned, the library probe's cause) count as one key each.
//
// A change that means to alter the results' shape refreshes the fixture, and the diff shows it:
//   DLBENCH_WRITE_RESULT_SHAPE=1 build/tests/dlbench_tests --gtest_filter='ResultShape*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/strings.h"
#include "test_util.h"

namespace dlbench {
namespace {

using nlohmann::json;

const std::string kFixture = std::string(DLBENCH_TEST_DATA) + "/quick-dry-run-shape.json";

/// Keys kept without their contents: what is inside depends on the machine.
bool machine_subtree(const std::string& path) {
  return path == "context" || path == "invocation" || path == "ceilings" ||
         path == "run.conditions" || path == "bound" || path == "compute_ceiling" ||
         path == "bandwidth_ceiling" || path == "theoretical_compute_ceiling" ||
         path == "theoretical_bandwidth_ceiling";
}

/// Keys left out: present or not depending on the machine's ceilings and speed.
bool machine_key(const std::string& path) {
  return path == "run.ceiling_sanity" || path == "run.stale_ceilings" || path == "check.cause" ||
         starts_with(path, "metrics.pct_") || path == "metrics.device_time" ||
         path == "metrics.device_throughput" || path == "metrics.device_peak_memory";
}

/// Every key path under `value` ("a.b", arrays as "a[]"), `value`'s own path included.
void collect_keys(const json& value, const std::string& path, std::set<std::string>& keys) {
  if (!path.empty()) keys.insert(path);
  if (machine_subtree(path)) return;
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      std::string child_path = path.empty() ? key : path + "." + key;
      if (!machine_key(child_path)) collect_keys(child, child_path, keys);
    }
  } else if (value.is_array()) {
    for (const json& child : value) collect_keys(child, path + "[]", keys);
  }
}

/// The shape of a results document: its top-level keys, and for each record its repro string
/// and the index of its key set among the distinct ones.
json shape_of(const json& document) {
  std::set<std::string> top;
  for (const auto& [key, child] : document.items()) top.insert(key);
  std::vector<std::set<std::string>> key_sets;
  json records = json::array();
  for (const json& record : document.at("results")) {
    std::set<std::string> keys;
    collect_keys(record, "", keys);
    size_t index = 0;
    while (index < key_sets.size() && key_sets[index] != keys) ++index;
    if (index == key_sets.size()) key_sets.push_back(keys);
    records.push_back({{"problem", record.at("problem")}, {"key_set", index}});
  }
  json sets = json::array();
  for (const auto& keys : key_sets) sets.push_back(keys);
  return {{"document_keys", top}, {"records", records}, {"key_sets", sets}};
}

/// The keys of `a` that `b` lacks.
std::vector<std::string> missing(const json& a, const json& b) {
  std::set<std::string> in_b(b.begin(), b.end());
  std::vector<std::string> out;
  for (const json& key : a) {
    if (!in_b.count(key.get<std::string>())) out.push_back(key.get<std::string>());
  }
  return out;
}

TEST(ResultShape, QuickSuiteDryRunKeepsItsReproStringsAndKeys) {
  std::string dir = testing::temp_dir();
  testing::ScopedEnv cache("DLBENCH_CACHE_DIR", dir.c_str());
  testing::ScopedEnv no_peak("DLBENCH_NO_PEAK", "1");
  testing::Command run =
      // --threads 2: the default follows the machine's cores, and the repro strings with it.
      testing::dlbench("run -q --suite quick --dry-run --no-peak --threads 2 -o " + dir +
                       "/quick.json");
  // 1: a problem FAILED, as a bf16 GEMM's check may where the library accumulates bf16 in bf16
  // (nn/check.h); its record keeps its shape.
  ASSERT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.exit_code << ": " << run.err;
  json shape = shape_of(parse_json_file(dir + "/quick.json", "results"));

  if (const char* write = std::getenv("DLBENCH_WRITE_RESULT_SHAPE"); write && *write == '1') {
    std::filesystem::create_directories(std::filesystem::path(kFixture).parent_path());
    std::ofstream out(kFixture);
    out << shape.dump(1) << "\n";
    ASSERT_TRUE(out.good()) << "cannot write " << kFixture;
    GTEST_SKIP() << "wrote " << kFixture;
  }
  json fixture = parse_json_file(kFixture, "result shape fixture");
  EXPECT_EQ(shape["document_keys"], fixture["document_keys"]);
  const json& records = shape["records"];
  const json& expected = fixture["records"];
  ASSERT_EQ(records.size(), expected.size()) << "problems in the quick suite's dry run";
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string problem = records[i]["problem"];
    EXPECT_EQ(problem, expected[i]["problem"].get<std::string>()) << "record " << i + 1;
    const json& keys = shape["key_sets"][records[i]["key_set"].get<size_t>()];
    const json& want = fixture["key_sets"][expected[i]["key_set"].get<size_t>()];
    std::vector<std::string> gone = missing(want, keys), added = missing(keys, want);
    EXPECT_TRUE(gone.empty() && added.empty())
        << problem << ": keys gone: " << join(gone, ", ") << "; keys added: " << join(added, ", ")
        << " (a deliberate change refreshes the fixture: see this file's first comment)";
  }
}

TEST(ResultShape, MachineDependentSubtreesCountAsOneKey) {
  json record = {{"problem", "p"},
                 {"ceilings", {{"compute", {{"value", 1}}}}},
                 {"metrics", {{"flops", {{"value", 1}}}, {"pct_peak_compute", {{"value", 2}}}}},
                 {"notes", {"a", "b"}},
                 {"run", {{"ceiling_sanity", {{"bandwidth", 1}}}, {"measured_steps", 1}}}};
  std::set<std::string> keys;
  collect_keys(record, "", keys);
  EXPECT_EQ(keys, (std::set<std::string>{"problem", "ceilings", "metrics", "metrics.flops",
                                         "metrics.flops.value", "notes", "notes[]", "run",
                                         "run.measured_steps"}));
}

}  // namespace
}  // namespace dlbench
