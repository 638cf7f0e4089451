// The dlbench binary given bad input: NaN and infinite options, absurd thread counts, a
// parameter given twice, files that are folders, nested too deep or of the wrong types, malformed
// child specs, --data-dir in either place, suites and problem lists that say where a problem was
// written, and user text with control bytes or 100 KB. Each must end in exit status 2 and one
// line on stderr starting "dlbench: error: " (warnings: one line, and the command goes on).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "analysis/ceilings.h"
#include "core/result.h"
#include "core/system_info.h"
#include "test_util.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Command;
using testing::dlbench;

/// Runs `dlbench ARGS`: it must exit 2 with exactly one line on stderr, "dlbench: error: ...",
/// holding each of `parts`, and print nothing on stdout. Returns stderr.
std::string expect_usage_error(const std::string& args, const std::vector<std::string>& parts) {
  Command r = dlbench(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(testing::count_lines(r.err), 1u) << args << "\n" << r.err;
  EXPECT_EQ(r.err.rfind("dlbench: error: ", 0), 0u) << args << "\n" << r.err;
  for (const std::string& part : parts) {
    EXPECT_NE(r.err.find(part), std::string::npos) << args << "\n" << r.err << "lacks: " << part;
  }
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
  return r.err;
}

/// A folder for one test's files.
class CliBadInputFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir(); }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string file(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    testing::write_file(path, text);
    return path;
  }
  /// A results file (one PASSED record) with `change` applied to its JSON.
  std::string results_file(const std::string& name, void (*change)(json&)) const {
    ResultsDocument doc;
    doc.context = {{"host", {{"hostname", "h"}}}};
    Result r;
    r.problem = "test/sleep ms=1";
    r.workload = "test/sleep";
    r.params = {{"ms", "1"}};
    r.set_metric("step_time", 0.001, "s", "lower");
    doc.results.push_back(r);
    json j = doc.to_json();
    change(j);
    return file(name, j.dump());
  }
  std::string dir_;
};

TEST(CliBadInput, NanAndInfinityAreRefusedForEveryNumberOption) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--timeout", "nan"},     {"--timeout", "inf"},      {"--min-time", "nan"},
      {"--min-time", "-inf"},   {"--max-time", "inf"},     {"--cv-bound", "nan"},
      {"--cv-bound", "inf"},    {"--dist-timeout", "nan"}, {"--dist-timeout", "inf"},
      {"--warmup-time", "nan"}, {"--timeout", "1e999"}};
  for (const auto& [option, value] : cases) {
    std::string err = expect_usage_error("run test/sleep " + option + "=" + value,
                                         {option + " must be a finite", "'" + value + "'"});
    EXPECT_LT(err.size(), 200u) << err;
  }
}

TEST(CliBadInput, NanIsRefusedForFloatParameters) {
  expect_usage_error("run test/sleep ms=nan", {"test/sleep", "parameter 'ms'", "finite"});
  expect_usage_error("describe micro/embedding alpha=inf", {"parameter 'alpha'", "finite"});
}

TEST(CliBadInput, IntegerOptionsSayWhatTheyExpect) {
  std::string err = expect_usage_error("run test/sleep --threads 0",
                                       {"--threads must be a positive integer, not '0'"});
  EXPECT_LT(err.size(), 200u) << "no 309-digit range: " << err;
  expect_usage_error("run test/sleep --repeats 0", {"--repeats must be a positive integer"});
  expect_usage_error("run test/sleep --min-steps nan", {"--min-steps must be a positive integer"});
  expect_usage_error("run test/sleep --warmup-steps=-1",
                     {"--warmup-steps must be a non-negative integer"});
  expect_usage_error("peak --threads 0", {"--threads must be a positive integer"});
}

TEST(CliBadInput, AbsurdThreadCountsAreRefused) {
  expect_usage_error("run test/sleep threads=100000", {"parameter 'threads'", "at most"});
  expect_usage_error("run test/sleep --threads 100000", {"--threads must be at most"});
  expect_usage_error("describe micro/gemm threads=" + std::to_string(max_thread_count() + 1),
                     {"parameter 'threads'", "at most"});
  expect_usage_error("peak --threads 100000", {"--threads must be at most"});
}

TEST_F(CliBadInputFiles, ThreadsAboveTheUsableCpusWarnOnce) {
  const int threads = usable_cpu_count() + 1;  // accepted: at most 64 per usable CPU
  Command r = dlbench("run -q --dry-run --no-peak -o " + dir_ +
                      "/r.json test/sleep ms=0 test/sleep ms=1 threads=" + std::to_string(threads) +
                      " test/sleep ms=0 threads=" + std::to_string(threads));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t warnings = 0;
  for (size_t at = r.err.find("warning"); at != std::string::npos;
       at = r.err.find("warning", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << r.err;
  EXPECT_NE(r.err.find("threads=" + std::to_string(threads) + " is more than the " +
                       std::to_string(usable_cpu_count()) + " CPUs"),
            std::string::npos)
      << r.err;
}

TEST(CliBadInput, ParameterGivenBeforeAndAfterTheWorkload) {
  expect_usage_error("run m=64 micro/gemm m=32",
                     {"parameter 'm' given twice for 'micro/gemm'", "m=64", "m=32"});
  expect_usage_error("describe m=64 'micro/gemm m=32'", {"parameter 'm' given twice"});
}

TEST_F(CliBadInputFiles, ShowAndRooflineOnBadFiles) {
  const std::string deep = file("deep.json", std::string(100000, '[') + std::string(100000, ']'));
  for (const char* command : {"show", "roofline"}) {
    std::string c = command;
    expect_usage_error(c + " " + dir_, {"cannot read results file", "is a folder, not a file"});
    expect_usage_error(c + " " + deep, {"deep.json", "deeper than 64 levels"});
    expect_usage_error(
        c + " " + file("big.json", R"({"schema_version": "1.0", "results": [], "x": 1e999999})"),
        {"big.json", "not valid JSON", "1e999999"});
    expect_usage_error(
        c + " " + results_file("breakdown.json", [](json& j) { j["results"][0]["breakdown"] = 5; }),
        {"breakdown.json", "result #1", "'breakdown' must be a list of objects"});
    expect_usage_error(
        c + " " + results_file("context.json", [](json& j) { j["context"] = json::array(); }),
        {"context.json", "'context' must be an object"});
  }
  // Optional fields of other types show as "-": the file still renders.
  std::string odd = results_file("odd.json", [](json& j) {
    j["context"]["cpu"] = {{"physical_cores", "two"}};
    j["results"][0]["breakdown"] = {{{"share", "x"}, {"bound", 1}}};
  });
  for (const char* format : {"table", "json", "csv", "md"}) {
    Command r = dlbench("show " + odd + " --format " + format);
    EXPECT_EQ(r.exit_code, 0) << format << ": " << r.err;
  }
}

TEST_F(CliBadInputFiles, MalformedChildSpec) {
  const std::string result = dir_ + "/result.json";
  expect_usage_error("_child " + file("a.json", "{bad") + " " + result,
                     {"child spec", "not valid JSON"});
  expect_usage_error("_child " + file("b.json", "{\"options\": {}}") + " " + result,
                     {"child spec", "'problem'"});
  expect_usage_error("_child " + file("c.json", "{\"problem\": \"test/sleep\"}") + " " + result,
                     {"child spec", "'options'"});
  expect_usage_error(
      "_child " + file("d.json", R"({"problem": "test/sleep", "options": {"repeats": "3"}})") +
          " " + result,
      {"'options.repeats' must be an integer"});
  expect_usage_error("_child " + dir_ + "/missing.json " + result, {"child spec", "No such file"});
  EXPECT_FALSE(fs::exists(result));
}

TEST_F(CliBadInputFiles, DataDirAfterTheSubcommand) {
  Command r = dlbench("data list --data-dir " + dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("data directory: " + dir_), std::string::npos) << r.out;
  Command before = dlbench("data --data-dir " + dir_ + " list --format json");
  EXPECT_EQ(before.exit_code, 0) << before.err;
  // Accepted after `fetch` too: an unknown data set fails before anything is downloaded.
  expect_usage_error("data fetch no-such-set --data-dir " + dir_, {"unknown data set"});
  const std::string not_dir = file("plain-file", "x");
  expect_usage_error("data --data-dir " + not_dir + " list", {"--data-dir", "not a directory"});
  expect_usage_error("data list --data-dir " + not_dir, {"not a directory"});
  expect_usage_error("data fetch mnist --data-dir " + not_dir, {"not a directory"});
  expect_usage_error("data list --data-dir " + dir_ + "/missing", {"No such file"});
  expect_usage_error("data --data-dir " + dir_ + " list --data-dir " + dir_ + "/other",
                     {"--data-dir given twice"});
  expect_usage_error("run test/sleep --data-dir " + not_dir, {"not a directory"});
}

TEST_F(CliBadInputFiles, SuiteAndListErrorsNameFileAndLine) {
  const std::string suite = file("x.yaml",
                                 "name: x\nproblems:\n  - test/sleep ms=1\n\n"
                                 "  - micro/gemmm m=8\n");
  expect_usage_error("run --dry-run --suite " + suite,
                     {suite + ":5: unknown workload 'micro/gemmm'", "did you mean 'micro/gemm'"});
  const std::string list = file("list.txt", "# problems\ntest/sleep ms=1\ntest/sleep mss=1\n");
  expect_usage_error("run --dry-run --list " + list,
                     {list + ":3: test/sleep: unknown parameter 'mss'"});
  const std::string listing_suite = file("y.yaml", "problems:\n  - inputs: " + list + "\n");
  expect_usage_error("run --dry-run --suite " + listing_suite,
                     {list + ":3 (from " + listing_suite + ":2): test/sleep"});
}

TEST(CliBadInput, UserTextIsEchoedPrintably) {
  // The shell is /bin/sh: printf makes the control bytes (octal escapes).
  std::string err =
      expect_usage_error("run \"$(printf 'micro/ge\\033[2Jmm')\"", {"unknown workload"});
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << err;
  EXPECT_NE(err.find("micro/ge\\x1B[2Jmm"), std::string::npos) << err;
  err = expect_usage_error("\"$(printf 'fr\\033ob')\"", {"unknown command 'fr\\x1Bob'"});
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << err;
  err = expect_usage_error("run micro/gemm \"$(printf 'm=1\\007')\"", {"parameter 'm'", "\\x07"});
  EXPECT_EQ(err.find('\x07'), std::string::npos) << err;
  const std::string huge(100000, 'x');
  for (const std::string& args :
       {"run micro/" + huge, huge, "run micro/gemm m=" + huge, "list " + huge,
        "run micro/gemm --format " + huge, "run micro/gemm --" + huge}) {
    err = expect_usage_error(args, {"bytes)"});
    EXPECT_LT(err.size(), 1000u) << err.substr(0, 300);
  }
}

TEST_F(CliBadInputFiles, BadCeilingsCacheIsIgnoredWithOneWarning) {
  testing::ScopedEnv cache("DLBENCH_CACHE_DIR", dir_.c_str());
  const std::string path = measured_ceilings_path("cpu", 1);
  testing::write_file(path, R"({"compute": {"fp32": {"flops": 1e9, "source": 5}}})");
  Command r = dlbench("run -q --dry-run --no-peak -o " + dir_ +
                      "/r.json micro/gemm m=8 n=8 k=8 "
                      "threads=1 micro/gemm m=16 n=8 k=8 threads=1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  size_t warnings = 0;
  for (size_t at = r.err.find("warning"); at != std::string::npos;
       at = r.err.find("warning", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << r.err;
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  ResultsDocument doc = ResultsDocument::load(dir_ + "/r.json");
  ASSERT_EQ(doc.results.size(), 2u);
  for (const Result& result : doc.results) {
    EXPECT_EQ(result.status, Status::kPassed) << result.reason;
  }
}

}  // namespace
}  // namespace dlbench
