// Bad input below the command line: text echoed in messages, float and thread parameters, JSON
// files (nesting, numbers, wrong types), the measured-ceilings cache, child specs, suites and
// problem lists that say where a problem was written, and data readers given FIFOs and headers
// that claim more than their file holds. Every case must end in one dlbench::Error (or, for a
// cache, in "absent"), never a crash, a hang or another exception.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fcntl.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <string>
#include <vector>

#include "analysis/ceilings.h"
#include "cli/targets.h"
#include "core/error.h"
#include "core/files.h"
#include "core/params.h"
#include "core/registry.h"
#include "core/result.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "data/catalog.h"
#include "data/csv.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/netcdf.h"
#include "harness/child_spec.h"
#include "harness/suite.h"
#include "report/report.h"
#include "test_util.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::expect_error;

/// A fresh folder for one test, removed after it.
class TempFolder {
 public:
  TempFolder() : path_(testing::temp_dir()) {}
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Makes a FIFO at `path`.
void make_fifo(const std::string& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path; }

/// Runs `read` on the FIFO at `path`: it must throw dlbench::Error naming the file and saying
/// it is not a regular file, within seconds. A reader that blocks is released (a writer opens
/// and closes the FIFO) and the test fails instead of hanging.
void expect_refuses_fifo(const std::string& path, const std::function<void()>& read) {
  auto outcome = std::async(std::launch::async, [&]() -> std::string {
    try {
      read();
    } catch (const Error& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("other exception: ") + e.what();
    }
    return "no error";
  });
  if (outcome.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << path << ": the reader blocked on a FIFO";
    for (int i = 0;
         i < 100 && outcome.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready;
         ++i) {
      int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
    outcome.wait();
    return;
  }
  const std::string message = outcome.get();
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("FIFO, not a regular file"), std::string::npos) << message;
}

/// `text` nested `depth` arrays deep: [[[...]]].
std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

/// A valid results document with one PASSED record, as JSON.
json results_json() {
  ResultsDocument doc;
  doc.context = {{"host", {{"hostname", "h"}}}, {"cpu", {{"model", "m"}}}};
  Result r;
  r.problem = "test/sleep ms=1";
  r.workload = "test/sleep";
  r.params = {{"ms", "1"}};
  r.set_metric("step_time", 0.001, "s", "lower");
  doc.results.push_back(r);
  return doc.to_json();
}

// ---------------------------------------------------------------------------------------------
// Text echoed in messages

TEST(BadInputText, ControlBytesAreEscaped) {
  EXPECT_EQ(printable("micro/ge\x1b[2Jmm"), "micro/ge\\x1B[2Jmm");
  EXPECT_EQ(printable("a\nb\tc\rd\x7f"), "a\\x0Ab\\x09c\\x0Dd\\x7F");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(single_quoted("x\x07"), "'x\\x07'");
}

TEST(BadInputText, Utf8IsKeptButC1ControlsAndBrokenSequencesAreEscaped) {
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");
  EXPECT_EQ(printable("csi \xc2\x9b"), "csi \\xC2\\x9B");    // U+009B, a C1 control
  EXPECT_EQ(printable("raw \x9b"), "raw \\x9B");             // a lone continuation byte
  EXPECT_EQ(printable("cut \xe2\x86"), "cut \\xE2\\x86");    // a sequence cut short
  EXPECT_EQ(printable("over \xc0\xaf"), "over \\xC0\\xAF");  // an overlong encoding
}

TEST(BadInputText, LongTextIsCutWithItsLength) {
  const std::string long_text(100000, 'a');
  const std::string shown = printable(long_text);
  EXPECT_EQ(shown, std::string(kPrintableMaxBytes, 'a') + "... (100000 bytes)");
  EXPECT_EQ(printable(std::string(kPrintableMaxBytes, 'b')), std::string(kPrintableMaxBytes, 'b'));
  // Never cut inside a UTF-8 sequence.
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";
  const std::string cut = printable(accents);
  EXPECT_EQ(cut.find("\\x"), std::string::npos) << cut;
  EXPECT_NE(cut.find("... (300 bytes)"), std::string::npos) << cut;
}

TEST(BadInputText, MessagesEchoPrintableUserText) {
  std::string message =
      expect_error([] { Registry::instance().info("micro/\x1b[31mgemm"); }, {"unknown workload"});
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  EXPECT_NE(message.find("\\x1B[31m"), std::string::npos) << message;
  message = expect_error([] { Registry::instance().info(std::string(100000, 'w')); },
                         {"unknown workload", "(100000 bytes)"});
  EXPECT_LT(message.size(), 1000u);
  message = expect_error(
      [] {
        Registry::instance().resolve(Problem{"micro/gemm", {{"m", std::string(5000, '9') + "\n"}}});
      },
      {"parameter 'm'", "(5001 bytes)"});
  EXPECT_LT(message.size(), 1000u);
}

// ---------------------------------------------------------------------------------------------
// Parameters

TEST(BadInputParams, FloatParametersRefuseNanAndInfinity) {
  ParamSpec spec = ParamSpec::real("ms", 2.0, "milliseconds", 0.0, 60000.0);
  for (const char* value : {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999"}) {
    expect_error([&] { spec.normalize(value, "test/sleep"); },
                 {"test/sleep", "parameter 'ms'", "finite"});
  }
  ParamSpec unbounded = ParamSpec::real("x", 0, "anything");
  expect_error([&] { unbounded.normalize("nan", "w"); }, {"parameter 'x'", "finite"});
  EXPECT_EQ(spec.normalize("2.5", "test/sleep"), "2.5");
  expect_error(
      [] {
        Registry::instance().resolve(Problem{"micro/embedding", {{"alpha", "nan"}}});
      },
      {"micro/embedding", "parameter 'alpha'", "finite"});
}

TEST(BadInputParams, DurationsMustBeFinite) {
  EXPECT_FALSE(parse_seconds("nan"));
  EXPECT_FALSE(parse_seconds("inf"));
  EXPECT_FALSE(parse_seconds("infs"));
  EXPECT_FALSE(parse_seconds("1e308h"));  // finite number, infinite seconds
  EXPECT_FALSE(parse_double("nan"));
  EXPECT_FALSE(parse_double("1e999"));
  EXPECT_EQ(parse_seconds("2m").value_or(0), 120.0);
}

TEST(BadInputParams, ThreadCountsAreBounded) {
  EXPECT_GE(max_thread_count(), usable_cpu_count());
  EXPECT_LE(max_thread_count(), kMaxThreadsAbsolute);
  EXPECT_EQ(max_thread_count(),
            std::min(kMaxThreadsAbsolute, kMaxThreadsPerCpu * usable_cpu_count()));
  auto resolve_threads = [](const std::string& threads) {
    return Registry::instance().resolve(Problem{"micro/gemm", {{"threads", threads}}});
  };
  // More threads than CPUs is allowed (the CLI warns); absurd counts are refused.
  EXPECT_EQ(resolve_threads(std::to_string(usable_cpu_count() + 1)).get_int("threads"),
            usable_cpu_count() + 1);
  EXPECT_EQ(resolve_threads(std::to_string(max_thread_count())).get_int("threads"),
            max_thread_count());
  expect_error([&] { resolve_threads(std::to_string(max_thread_count() + 1)); },
               {"parameter 'threads'", "at most"});
  expect_error([&] { resolve_threads("100000"); }, {"parameter 'threads'", "at most"});
  expect_error([&] { resolve_threads("0"); }, {"parameter 'threads'"});
  EXPECT_EQ(thread_count_problem(1), "");
  EXPECT_NE(thread_count_problem(kMaxThreadsAbsolute + 1), "");
}

TEST(BadInputParams, ParameterGivenBeforeAndAfterTheWorkloadIsRefused) {
  expect_error(
      [] {
        parse_targets({"m=64", "micro/gemm", "m=32"});
      },
      {"parameter 'm' given twice", "micro/gemm", "m=64", "m=32"});
  expect_error(
      [] {
        parse_targets({"m=64", "micro/gemm m=32 n=8"});
      },
      {"parameter 'm' given twice", "micro/gemm"});
  // One value for each key: the override applies to every problem that has the key.
  TargetList list = parse_targets({"m=64", "micro/gemm", "n=8", "micro/gemm", "k=4"});
  EXPECT_EQ(list.overrides.at("m"), "64");
  ASSERT_EQ(list.problems.size(), 2u);
  std::vector<Problem> resolved = resolve_all(list.problems, list.overrides);
  EXPECT_EQ(resolved[0].get("m"), "64");
  EXPECT_EQ(resolved[1].get("m"), "64");
  EXPECT_EQ(resolved[0].get("n"), "8");
}

TEST(BadInputParams, ResolveErrorsNameWhereTheProblemWasWritten) {
  expect_error(
      [] {
        resolve_all({Problem{"micro/gemm", {}}, Problem{"micro/gemmm", {}}}, {},
                    {"suites/x.yaml:3", "suites/x.yaml:7"});
      },
      {"suites/x.yaml:7: unknown workload 'micro/gemmm'", "did you mean 'micro/gemm'"});
}

TEST(BadInputParams, RnnAndAttentionValuesAreRejected) {
  auto& registry = Registry::instance();
  for (const char* bad : {"micro/rnn cell=mlstm", "micro/rnn hidden=0", "micro/rnn pass=bwd_data",
                          "micro/rnn dtype=fp64", "micro/attention impl=flash",
                          "micro/attention head_dim=0", "micro/attention kv_seq=-1"}) {
    EXPECT_THROW(registry.resolve(Problem::parse(bad)), Error) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON files

TEST(BadInputJson, NestingIsCappedWithoutExhaustingTheStack) {
  expect_error([] { parse_json_text(nested_arrays(100000), "results file 'deep.json'"); },
               {"results file 'deep.json'", "deeper than 64 levels"});
  EXPECT_NO_THROW(parse_json_text(nested_arrays(kMaxJsonDepth), "x"));
  expect_error([] { parse_json_text(nested_arrays(kMaxJsonDepth + 1), "x"); }, {"deeper"});
  std::string objects;
  for (int i = 0; i < 1000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(1000, '}');
  expect_error([&] { parse_json_text(objects, "x"); }, {"deeper than 64 levels"});
}

TEST(BadInputJson, NumbersOutOfRangeAndSyntaxErrorsAreErrors) {
  expect_error([] { parse_json_text("{\"a\": 1e999999}", "results file 'big.json'"); },
               {"results file 'big.json'", "not valid JSON", "1e999999"});
  expect_error([] { parse_json_text("{not json", "x"); }, {"not valid JSON"});
  expect_error([] { parse_json_text("", "x"); }, {"not valid JSON"});
}

TEST(BadInputJson, OnlyRegularFilesAreRead) {
  TempFolder dir;
  expect_error([&] { parse_json_file(dir.path(), "results file"); },
               {"cannot read results file", dir.path(), "is a folder, not a file"});
  expect_error([&] { parse_json_file(dir.file("missing.json"), "results file"); },
               {"No such file or directory"});
  make_fifo(dir.file("fifo.json"));
  expect_refuses_fifo(dir.file("fifo.json"),
                      [&] { parse_json_file(dir.file("fifo.json"), "results file"); });
  testing::write_file(dir.file("ok.json"), "{\"a\": [1, 2]}");
  EXPECT_EQ(parse_json_file(dir.file("ok.json"), "results file")["a"][1], 2);
}

TEST(BadInputJson, ResultsWithWrongTypesAreOneError) {
  TempFolder dir;
  auto load_with = [&](const std::function<void(json&)>& change) {
    json doc = results_json();
    change(doc);
    testing::write_file(dir.file("r.json"), doc.dump());
    return ResultsDocument::load(dir.file("r.json"));
  };
  EXPECT_NO_THROW(load_with([](json&) {}));
  expect_error([&] { load_with([](json& d) { d["results"][0]["breakdown"] = 5; }); },
               {"result #1", "'breakdown' must be a list of objects"});
  expect_error([&] { load_with([](json& d) {
                       d["results"][0]["breakdown"] = {1, 2};
                     }); },
               {"'breakdown' must be a list of objects"});
  expect_error([&] { load_with([](json& d) { d["context"] = json::array(); }); },
               {"'context' must be an object, not a list"});
  expect_error([&] { load_with([](json& d) { d["invocation"] = "x"; }); },
               {"'invocation' must be an object"});
  expect_error([&] { load_with([](json& d) { d["results"][0]["run"] = 3; }); },
               {"'run' must be an object"});
  expect_error([&] { load_with([](json& d) { d["results"][0]["ranks"] = "x"; }); },
               {"'ranks' must be a list of objects"});
}

TEST(BadInputJson, ReportsReadOptionalFieldsOfAnyType) {
  // Fields the reports read but the schema leaves open: a wrong type shows as "-" or empty.
  json doc = results_json();
  doc["context"]["cpu"] = {{"model", 5}, {"physical_cores", "two"}};
  doc["context"]["cuda"] = {{"devices", 7}};
  doc["context"]["libraries"] = {{"libtorch", 1}, {"blas", {{"name", 2}}}};
  doc["results"][0]["breakdown"] = {{{"share", "big"},
                                     {"name", 3},
                                     {"count", "x"},
                                     {"status", "PASSED"},
                                     {"time_s", "slow"},
                                     {"bound", 5},
                                     {"primary_metric", "flops"}},
                                    json::object()};
  doc["results"][0]["run"] = {{"probes", {5, {{"name", 1}}}},
                              {"quality", {{"unit", 1}, {"target", "t"}, {"runs", "many"}}},
                              {"quality_runs", {{{"curve", 3}}}},
                              {"mllog", 4}};
  ResultsDocument loaded = ResultsDocument::from_json(doc, "x");
  for (const std::string& format : report_formats()) {
    EXPECT_NO_THROW(render(loaded, format)) << format;
  }
  EXPECT_NE(render(loaded, "table").find("breakdown of #1"), std::string::npos);
}

TEST(BreakdownTable, APartsFigureThatFailedACeilingCheckIsMarked) {
  // A composite's part (a ReLU whose activations fit in cache) at 459% of memory's ceiling is
  // shown with "?", as a whole result's figure is; a part that passed its checks is not.
  json doc = results_json();
  json part = {{"name", "relu1"},
               {"kind", "activation"},
               {"pass", "fwd"},
               {"count", 1},
               {"status", "PASSED"},
               {"time_s", 1e-4},
               {"total_time_s", 1e-4},
               {"share", 0.5},
               {"primary_metric", "bandwidth"},
               {"bandwidth", 1.5e11},
               {"pct_peak_bandwidth", 459.2},
               {"ceiling_sanity", {{"bandwidth", {{"verdict", "in_cache"}, {"pct", 459.2}}}}}};
  json plain = part;
  plain["name"] = "pool1";
  plain["pct_peak_bandwidth"] = 4.2;
  plain["ceiling_sanity"] = nullptr;
  doc["results"][0]["breakdown"] = {part, plain};
  std::string table = render(ResultsDocument::from_json(doc, "x"), "table");
  EXPECT_NE(table.find("459.2%?"), std::string::npos) << table;
  EXPECT_NE(table.find("4.2%"), std::string::npos) << table;
  EXPECT_EQ(table.find("4.2%?"), std::string::npos) << table;
}

// ---------------------------------------------------------------------------------------------
// The measured-ceilings cache

class BadInputCeilings : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = std::make_unique<testing::ScopedEnv>("DLBENCH_CACHE_DIR", dir_.path().c_str());
    path_ = measured_ceilings_path("cpu", 3);
  }
  json good_cache() const {
    return {{"device", "cpu"},
            {"threads", 3},
            {"measured_at", "2026-01-01T00:00:00Z"},
            {"compute", {{"fp32", {{"flops", 1e11}, {"source", "measured"}, {"basis", "gemm"}}}}},
            {"bandwidth", {{"bytes_per_s", 2e10}, {"source", "measured"}, {"basis", "triad"}}},
            {"problems",
             {{{"problem", "micro/gemm"}, {"status", "PASSED"}, {"reason", ""}, {"rate", 1e11}}}}};
  }
  /// Writes `cache` and loads it twice, returning the loaded value and what went to stderr.
  json load_twice(const std::string& text, std::string* err) {
    testing::write_file(path_, text);
    ::testing::internal::CaptureStderr();
    json first = load_measured_ceilings("cpu", 3);
    json second = load_measured_ceilings("cpu", 3);
    EXPECT_EQ(first, second);
    EXPECT_FALSE(measured_compute_ceiling("cpu", "fp32", 3) && first.is_null());
    measured_bandwidth_ceiling("cpu", 3);
    *err = ::testing::internal::GetCapturedStderr();
    return first;
  }
  TempFolder dir_;
  std::unique_ptr<testing::ScopedEnv> cache_;
  std::string path_;
};

TEST_F(BadInputCeilings, GoodCacheLoads) {
  std::string err;
  json loaded = load_twice(good_cache().dump(), &err);
  EXPECT_EQ(loaded, good_cache());
  EXPECT_EQ(err, "");
  ASSERT_TRUE(measured_compute_ceiling("cpu", "fp32", 3));
  EXPECT_EQ(measured_compute_ceiling("cpu", "fp32", 3)->value, 1e11);
  EXPECT_EQ(measured_ceilings_problem(good_cache()), "");
}

TEST_F(BadInputCeilings, CacheWithWrongTypesIsIgnoredWithOneWarning) {
  json bad = good_cache();
  bad["compute"]["fp32"]["source"] = 5;
  std::string err;
  EXPECT_TRUE(load_twice(bad.dump(), &err).is_null());
  EXPECT_FALSE(measured_compute_ceiling("cpu", "fp32", 3));
  EXPECT_EQ(testing::count_lines(err), 1u) << err;
  EXPECT_NE(err.find("warning"), std::string::npos) << err;
  EXPECT_NE(err.find(path_), std::string::npos) << err;
  EXPECT_NE(err.find("'source'"), std::string::npos) << err;
}

TEST_F(BadInputCeilings, EveryFieldDlbenchReadsIsChecked) {
  std::vector<std::function<void(json&)>> changes = {
      [](json& c) { c = json::array(); },
      [](json& c) { c.erase("compute"); },
      [](json& c) { c["compute"] = 3; },
      [](json& c) { c["compute"]["fp32"] = "fast"; },
      [](json& c) { c["compute"]["fp32"]["flops"] = "1e11"; },
      [](json& c) { c["compute"]["fp32"]["flops"] = -1; },
      [](json& c) { c["compute"]["fp32"]["basis"] = json::array(); },
      [](json& c) { c["compute"]["fp32"]["theoretical"] = "x"; },
      [](json& c) { c["bandwidth"] = 5; },
      [](json& c) { c["bandwidth"]["bytes_per_s"] = nullptr; },
      [](json& c) { c["device"] = 1; },
      [](json& c) { c["threads"] = "3"; },
      [](json& c) { c["measured_at"] = 0; },
      [](json& c) { c["problems"] = 1; },
      [](json& c) { c["problems"][0] = 1; },
      [](json& c) { c["problems"][0]["status"] = 1; },
      [](json& c) { c["problems"][0]["rate"] = "x"; },
      [](json& c) {
        c["host_to_device"] = {{"bytes_per_s", "x"}};
      },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    json bad = good_cache();
    changes[i](bad);
    EXPECT_NE(measured_ceilings_problem(bad), "") << "change " << i << ": " << bad.dump();
  }
}

TEST_F(BadInputCeilings, UnreadableCachesAreIgnoredWithOneWarning) {
  const std::vector<std::string> texts = {"{not json", nested_arrays(100000),
                                          "{\"compute\": {}, \"threads\": 1e999999}"};
  for (size_t i = 0; i < texts.size(); ++i) {
    // One warning per file and process: each text goes to its own file (thread count).
    const int threads = 10 + static_cast<int>(i);
    const std::string path = measured_ceilings_path("cpu", threads);
    testing::write_file(path, texts[i]);
    ::testing::internal::CaptureStderr();
    EXPECT_TRUE(load_measured_ceilings("cpu", threads).is_null());
    EXPECT_TRUE(load_measured_ceilings("cpu", threads).is_null());
    EXPECT_FALSE(measured_compute_ceiling("cpu", "fp32", threads));
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(testing::count_lines(err), 1u) << err;
    EXPECT_NE(err.find(path), std::string::npos) << err;
  }
}

TEST_F(BadInputCeilings, MissingCacheIsSilent) {
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(load_measured_ceilings("cpu", 3).is_null());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(BadInputCeilings, FifoCacheIsIgnoredNotWaitedFor) {
  make_fifo(path_);
  ::testing::internal::CaptureStderr();
  auto loaded = std::async(std::launch::async, [] { return load_measured_ceilings("cpu", 3); });
  bool ready = loaded.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  if (!ready) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  json value = loaded.get();
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(ready) << "load_measured_ceilings blocked on a FIFO";
  EXPECT_TRUE(value.is_null());
  EXPECT_NE(err.find("FIFO"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------------------------
// Child specs

TEST(BadInputChildSpec, MalformedSpecsAreOneError) {
  TempFolder dir;
  auto spec = [&](const std::string& text) {
    testing::write_file(dir.file("spec.json"), text);
    return dir.file("spec.json");
  };
  json options = {{"min_steps", 2}, {"timeout", 10.0}, {"group", nullptr}};
  EXPECT_NO_THROW(
      load_child_spec(spec(json{{"problem", "test/sleep"}, {"options", options}}.dump())));
  expect_error([&] { load_child_spec(spec("{bad")); }, {"child spec", "not valid JSON"});
  expect_error([&] { load_child_spec(spec("[]")); }, {"child spec", "must be an object"});
  expect_error([&] { load_child_spec(spec("{\"options\": {}}")); }, {"'problem'"});
  expect_error([&] { load_child_spec(spec("{\"problem\": 5, \"options\": {}}")); }, {"'problem'"});
  expect_error([&] { load_child_spec(spec("{\"problem\": \"test/sleep\"}")); }, {"'options'"});
  expect_error([&] { load_child_spec(spec(R"({"problem": "test/sleep", "options": 3})")); },
               {"run options"});
  expect_error(
      [&] {
        load_child_spec(spec(R"({"problem": "test/sleep", "options": {"timeout": "long"}})"));
      },
      {"'options.timeout' must be a number"});
  expect_error(
      [&] {
        load_child_spec(spec(R"({"problem": "test/sleep", "options": {"group": {"rank": "0"}}})"));
      },
      {"'options.group.rank' must be an integer"});
  expect_error([&] { load_child_spec(spec(nested_arrays(100000))); }, {"deeper"});
}

// ---------------------------------------------------------------------------------------------
// Suites and problem lists

TEST(BadInputSuites, ErrorsNameTheFileAndLine) {
  TempFolder dir;
  testing::write_file(dir.file("list.txt"), "# gemm\nmicro/gemm m=8\n\nmicro/gemm m=8 m=9\n");
  expect_error([&] { load_problem_list(dir.file("list.txt")); },
               {dir.file("list.txt") + ":4: ", "given twice"});
  testing::write_file(dir.file("ok.txt"), "# gemm\nmicro/gemm m=8\n\nmicro/gemmm\n");
  std::vector<ListedProblem> listed = load_problem_list_entries(dir.file("ok.txt"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].origin, dir.file("ok.txt") + ":4");

  testing::write_file(dir.file("s.yaml"),
                      "name: s\nproblems:\n  - micro/gemm m=8\n  - problem: micro/gemmm\n"
                      "  - inputs: " +
                          dir.file("ok.txt") + "\n");
  Suite suite = load_suite(dir.file("s.yaml"));
  ASSERT_EQ(suite.entries.size(), 4u);
  EXPECT_EQ(suite.entries[0].origin, dir.file("s.yaml") + ":3");
  EXPECT_EQ(suite.entries[1].origin, dir.file("s.yaml") + ":4");
  EXPECT_EQ(suite.entries[3].origin, dir.file("ok.txt") + ":4 (from " + dir.file("s.yaml") + ":5)");

  testing::write_file(dir.file("bad.yaml"), "name: b\nproblems:\n  - micro/gemm m=8\n  - 'x=1'\n");
  expect_error([&] { load_suite(dir.file("bad.yaml")); },
               {dir.file("bad.yaml") + ":4: ", "must start with a workload name"});
  testing::write_file(dir.file("key.yaml"), "name: b\n\nproblemz: []\n");
  expect_error([&] { load_suite(dir.file("key.yaml")); },
               {dir.file("key.yaml") + ":3: ", "unknown key 'problemz'"});
  testing::write_file(dir.file("rule.yaml"), "run:\n  timeout: nan\nproblems: [micro/gemm]\n");
  expect_error([&] { load_suite(dir.file("rule.yaml")); },
               {dir.file("rule.yaml") + ":1: ", "timeout"});
}

// ---------------------------------------------------------------------------------------------
// Data readers

class BadInputReaders : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return dir_.file(name); }
  TempFolder dir_;
};

TEST_F(BadInputReaders, FifosAreRefusedNotWaitedFor) {
  make_fifo(file("images.idx"));
  expect_refuses_fifo(file("images.idx"), [&] { data::read_idx(file("images.idx")); });
  make_fifo(file("fields.nc"));
  expect_refuses_fifo(file("fields.nc"), [&] { data::NetcdfFile::open(file("fields.nc")); });
  make_fifo(file("day_0.tsv"));
  expect_refuses_fifo(file("day_0.tsv"), [&] { data::read_click_log(file("day_0.tsv")); });
  make_fifo(file("x.png"));
  expect_refuses_fifo(file("x.png"), [&] { data::read_file_bytes(file("x.png")); });
  expect_refuses_fifo(file("x.png"), [&] { data::file_size(file("x.png")); });
}

TEST_F(BadInputReaders, ImageFolderRefusesAFifoAmongItsImages) {
  fs::create_directories(file("set/cat"));
  testing::write_file(file("set/cat/1.png"), "");
  make_fifo(file("set/cat/2.png"));
  expect_refuses_fifo(file("set/cat/2.png"), [&] {
    data::ImageFolder folder = data::read_image_folder(file("set"));
    for (int64_t i = 0; i < folder.size(); ++i) folder.load(i);
  });
}

TEST_F(BadInputReaders, DataSetWithAFifoIsNotPresent) {
  const data::DatasetInfo& info = data::known_datasets().front();
  fs::create_directories(file(info.name));
  make_fifo(file(info.name + "/" + info.files.front().name));
  auto state =
      std::async(std::launch::async, [&] { return data::dataset_state(info, dir_.path(), true); });
  ASSERT_EQ(state.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  data::DatasetState s = state.get();
  EXPECT_FALSE(s.present);
  EXPECT_NE(s.problem.find("not a regular file"), std::string::npos) << s.problem;
}

/// A gzip file (stored, not compressed: fast to write) of an IDX header for `shape` (uint8)
/// followed by `data_bytes` zero bytes.
void write_gzip_idx(const std::string& path, const std::vector<uint32_t>& shape,
                    size_t data_bytes) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(shape.size())};
  for (uint32_t size : shape) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((size >> shift) & 0xFF);
  }
  bytes.resize(bytes.size() + data_bytes, 0);
  gzFile gz = gzopen(path.c_str(), "wb0");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(gz);
}

TEST_F(BadInputReaders, GzipIdxCannotClaimMoreThanItsLimit) {
  // 5 x 1e9 bytes = 5 GB claimed by a 5 MB file: within deflate's ratio, above the limit.
  write_gzip_idx(file("huge.gz"), {5, 1000000000u}, 5 << 20);
  expect_error([&] { data::read_idx(file("huge.gz")); },
               {file("huge.gz"), "5000000000 bytes", "4.00 GiB", "gzip"});
}

TEST_F(BadInputReaders, GzipIdxThatLiesFailsAsTruncated) {
  // 3 GB claimed, 2 MB of data: an error once the data run out, whatever the memory.
  write_gzip_idx(file("lie.gz"), {3, 1000000000u}, 2 << 20);
  expect_error([&] { data::read_idx(file("lie.gz")); }, {file("lie.gz"), "truncated"});
  // The same header with all its data reads (memory grown step by step, then handed over).
  write_gzip_idx(file("ok.gz"), {3, 1000, 700}, 3 * 1000 * 700);
  torch::Tensor t = data::read_idx(file("ok.gz"));
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 1000, 700}));
  EXPECT_EQ(t.sum().item<int64_t>(), 0);
}

}  // namespace
}  // namespace dlbench
