// The dlbench binary end to end: bad input, help, listings, dry runs of every workload, output
// formats, isolation of crashing and hanging problems, and results that survive a crash.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "core/registry.h"
#include "core/result.h"
#include "test_util.h"

namespace dlbench {
namespace {

using nlohmann::json;
using testing::Command;
using testing::dlbench;

const char* kFast = "--min-time 0 --min-steps 2 --repeats 1 --warmup-steps 0 --warmup-time 0";

struct BadInput {
  std::string args;
  std::string expected;  // text the one error line must contain
};

void PrintTo(const BadInput& c, std::ostream* out) { *out << "dlbench " << c.args; }

class BadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputTest, OneClearLineAndExitTwo) {
  const BadInput& c = GetParam();
  Command r = dlbench(c.args);
  EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
  EXPECT_EQ(testing::count_lines(r.err), 1u) << c.args << "\n" << r.err;
  EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << "\n" << r.err;
  EXPECT_EQ(r.err.rfind("dlbench: error: ", 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

std::string bad_file(const std::string& name, const std::string& text) {
  std::string path = testing::temp_dir() + "/" + name;
  testing::write_file(path, text);
  return path;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BadInputTest,
    ::testing::Values(
        BadInput{"run micro/gemmm", "unknown workload 'micro/gemmm' (did you mean 'micro/gemm'?)"},
        BadInput{"run micro/gemm mm=3", "unknown parameter 'mm'"},
        BadInput{"run micro/gemm m=abc", "bad value 'abc' for parameter 'm'"},
        BadInput{"run micro/gemm m=", "parameter 'm'"},
        BadInput{"run micro/gemm =5", "malformed parameter '=5'"},
        BadInput{"run micro/gemm device=tpu", "bad value 'tpu' for parameter 'device'"},
        BadInput{"run micro/gemm m=1 m=2", "given twice"}, BadInput{"run", "nothing to run"},
        BadInput{"run --suite no-such-suite", "unknown suite 'no-such-suite'"},
        BadInput{"run --suite /nonexistent/x.yaml", "cannot read suite file"},
        BadInput{"run micro/gemm --format xml", "--format"},
        BadInput{"run micro/gemm --repeats -1", "--repeats"},
        BadInput{"run micro/stream m=5 --dry-run", "unknown parameter 'm'"},
        BadInput{"describe micro/nope", "unknown workload 'micro/nope'"},
        BadInput{"show /nonexistent/results.json", "cannot read"},
        BadInput{"list no-such-thing", "no workload matches"},
        BadInput{"run test/sleep --min-time 5 --max-time 1", "max_time (1 s) is below min_time"},
        BadInput{"frobnicate", "unknown command 'frobnicate'"},
        BadInput{"lst", "did you mean 'list'"}),
    [](const ::testing::TestParamInfo<BadInput>& info) {
      return "case" + std::to_string(info.index);
    });

TEST(Cli, BadFilesGiveOneLine) {
  struct Case {
    std::string args, expected;
  };
  std::vector<Case> cases = {
      {"show " + bad_file("a.json", "{not json"), "not valid JSON"},
      {"show " + bad_file("b.json", R"({"results": []})"), "not a dlbench results file"},
      {"run --suite " + bad_file("c.yaml", "problems: [unclosed"), "not valid YAML"},
      {"run --suite " + bad_file("d.yaml", "problems:\n  - micro/nope\n"), "unknown workload"},
      {"run --suite " + bad_file("e.yaml", "problemz: []\n"), "unknown key 'problemz'"},
      {"run --suite " + bad_file("f.yaml", "problems: []\n"), "has no problems"},
      {"run --suite " + bad_file("g.yaml", "run: {repeats: many}\nproblems: [micro/gemm]\n"),
       "repeats"},
      {"run --suite " + bad_file("h.yaml", "run: {min_steps: 0}\nproblems: [micro/gemm]\n"),
       "'min_steps' must be an integer >= 1"},
  };
  for (const auto& c : cases) {
    Command r = dlbench(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1u) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << "\n" << r.err;
  }
}

TEST(Cli, HelpOnEverySubcommand) {
  for (const char* sub : {"", "list", "run", "describe", "info", "show"}) {
    Command r = dlbench(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  Command run_help = dlbench("run --help");
  EXPECT_NE(run_help.out.find("--dry-run"), std::string::npos);
}

TEST(Cli, ListsWorkloadsAsTableAndJson) {
  Command table = dlbench("list");
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("micro/gemm"), std::string::npos);
  EXPECT_NE(table.out.find("micro/stream"), std::string::npos);
  EXPECT_EQ(table.out.find("test/fault"), std::string::npos);  // hidden

  Command j = dlbench("list --format json --all");
  ASSERT_EQ(j.exit_code, 0);
  json doc = json::parse(j.out);
  std::set<std::string> names;
  for (const auto& w : doc["workloads"]) {
    names.insert(w["name"].get<std::string>());
    EXPECT_TRUE(w.contains("params") && w.contains("category") && w.contains("description"));
  }
  EXPECT_EQ(names.size(), Registry::instance().list(true).size());
  EXPECT_TRUE(names.count("test/fault"));
}

TEST(Cli, DescribeGivesWorkCountsWithoutRunning) {
  Command r = dlbench("describe micro/gemm m=4096 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_DOUBLE_EQ(d["work"]["flops_per_step"].get<double>(), 2.0 * 4096 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(d["work"]["bytes_per_step"].get<double>(),
                   (4096.0 * 1024 + 1024.0 * 1024 + 4096.0 * 1024) * 4);
  // The printed repro string, passed back, describes the same problem.
  Command again = dlbench("describe '" + d["problem"].get<std::string>() + "' --format json");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["problem"], d["problem"]);
  Command text = dlbench("describe micro/stream kernel=copy n=1Mi");
  EXPECT_NE(text.out.find("bytes per step:    16777216"), std::string::npos) << text.out;
}

TEST(Cli, InfoReportsContextAndOpenBlas) {
  Command r = dlbench("info --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json c = json::parse(r.out);
  for (const char* key : {"host", "cpu", "memory", "build", "libraries", "threads", "cuda"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  // The install script makes OpenBLAS the BLAS that LibTorch calls.
  EXPECT_EQ(c["libraries"]["blas"]["name"], "OpenBLAS") << c["libraries"]["blas"].dump();
  Command table = dlbench("info");
  EXPECT_NE(table.out.find("blas:      OpenBLAS"), std::string::npos) << table.out;
}

TEST(Cli, DryRunOfEveryRegisteredWorkload) {
  std::string dir = testing::temp_dir();
  std::string targets;
  size_t count = 0;
  for (const WorkloadInfo* info : Registry::instance().list(true)) {
    // Composites run every part (with its check): one image keeps a whole network quick.
    targets += " " + info->name + (info->category == "layer" ? " batch=1" : "");
    ++count;
  }
  Command r = dlbench("run" + targets + " --dry-run --format json -q -o " + dir + "/dry.json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json out = json::parse(r.out);
  ASSERT_EQ(out["results"].size(), count);
  for (const auto& result : out["results"]) {
    EXPECT_TRUE(result["status"] == "PASSED" || result["status"] == "SKIPPED")
        << result["problem"] << ": " << result["reason"];
    if (result.contains("breakdown")) {
      EXPECT_EQ(result["run"]["parts"], result["breakdown"].size());
      for (const auto& part : result["breakdown"]) EXPECT_EQ(part["status"], "PASSED") << part;
    } else if (result["status"] == "PASSED") {
      EXPECT_EQ(result["run"]["measured_steps"], 1);
    }
    EXPECT_TRUE(result["isolated"].get<bool>());
  }
  ResultsDocument saved = ResultsDocument::load(dir + "/dry.json");
  EXPECT_EQ(saved.results.size(), count);
}

TEST(Cli, OutputFormatsRenderTheSavedFile) {
  std::string dir = testing::temp_dir();
  std::string file = dir + "/r.json";
  Command r = dlbench(std::string("run micro/gemm m=64 n=64 k=64 micro/stream n=4096 ") + kFast +
                      " -o " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("repro: micro/gemm batch=1 device=cpu dtype=fp32 k=64 m=64 n=64"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("results: " + file), std::string::npos);
  // show re-renders the same table the run printed.
  Command table = dlbench("show " + file);
  EXPECT_EQ(table.out, r.out);
  Command csv = dlbench("show " + file + " --format csv");
  EXPECT_EQ(testing::count_lines(csv.out), 3u);
  EXPECT_EQ(csv.out.rfind("problem,workload,status", 0), 0u);
  Command md = dlbench("show " + file + " --format md");
  EXPECT_NE(md.out.find("| 2 | `micro/stream"), std::string::npos) << md.out;
  Command j = dlbench("show " + file + " --format json");
  EXPECT_EQ(json::parse(j.out)["results"].size(), 2u);
}

TEST(Cli, ReproStringFromAResultReproducesTheProblem) {
  std::string dir = testing::temp_dir();
  Command first = dlbench(std::string("run micro/gemm m=40 transb=t ") + kFast +
                          " --format json -q -o " + dir + "/a.json");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string repro = json::parse(first.out)["results"][0]["problem"];
  Command second =
      dlbench("run '" + repro + "' " + kFast + " --format json -q -o " + dir + "/b.json");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(json::parse(second.out)["results"][0]["problem"], repro);
}

TEST(Cli, IsolationContainsCrashesAndHangs) {
  std::string dir = testing::temp_dir();
  std::string suite = dir + "/faults.yaml";
  testing::write_file(suite,
                      "name: faults\n"
                      "run: {min_time: 0, min_steps: 2, repeats: 1, warmup_time: 0}\n"
                      "problems:\n"
                      "  - test/sleep ms=1\n"
                      "  - test/fault fault=segv\n"
                      "  - test/fault fault=abort when=setup\n"
                      "  - {problem: test/fault fault=hang, timeout: 2}\n"
                      "  - test/fault fault=exit\n"
                      "  - test/fault fault=kill\n"
                      "  - test/fault fault=throw\n"
                      "  - test/sleep ms=1\n");
  Command r = dlbench("run --suite " + suite + " -q -o " + dir + "/faults.json");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some problems FAILED
  ResultsDocument doc = ResultsDocument::load(dir + "/faults.json");
  ASSERT_EQ(doc.results.size(), 8u);
  auto expect = [&](size_t i, Status status, const std::string& reason) {
    EXPECT_EQ(doc.results[i].status, status) << i << ": " << doc.results[i].reason;
    EXPECT_NE(doc.results[i].reason.find(reason), std::string::npos)
        << i << ": " << doc.results[i].reason;
    EXPECT_TRUE(doc.results[i].isolated);
  };
  expect(0, Status::kPassed, "");
  expect(1, Status::kFailed, "signal 11");
  expect(2, Status::kFailed, "signal 6");
  expect(3, Status::kFailed, "timed out after 2 s");
  expect(4, Status::kFailed, "exited with status 3");
  expect(5, Status::kFailed, "out-of-memory killer");
  expect(6, Status::kFailed, "injected failure");
  expect(7, Status::kPassed, "");
  EXPECT_LT(doc.results[3].duration_s, 10.0);
  EXPECT_EQ(doc.results[1].work.sample_unit, "faults");  // work counts survive the crash
}

TEST(Cli, EachSuiteKeepsItsRunRulesAndFlagsWin) {
  std::string dir = testing::temp_dir();
  testing::write_file(dir + "/three.yaml",
                      "run: {min_steps: 3, min_time: 0, repeats: 1, warmup_time: 0}\n"
                      "problems: [test/sleep ms=1]\n");
  testing::write_file(dir + "/seven.yaml",
                      "run: {min_steps: 7, min_time: 0, repeats: 1, warmup_time: 0}\n"
                      "problems: [test/sleep ms=1]\n");
  Command r = dlbench("run --suite " + dir + "/three.yaml --suite " + dir +
                      "/seven.yaml --no-isolate -q --format json -o " + dir + "/s.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["results"][0]["run"]["measured_steps"], 3);
  EXPECT_EQ(out["results"][1]["run"]["measured_steps"], 7);
  EXPECT_EQ(out["invocation"]["command_line"][1], "run");

  Command flag = dlbench("run --suite " + dir + "/seven.yaml --min-steps 4 --no-isolate -q " +
                         "--format json -o " + dir + "/f.json");
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(json::parse(flag.out)["results"][0]["run"]["measured_steps"], 4);

  // An explicit --timeout also beats a suite entry's own timeout.
  testing::write_file(dir + "/entry.yaml",
                      "problems:\n  - {problem: test/sleep ms=1, timeout: 30}\n");
  Command entry = dlbench("run --suite " + dir + "/entry.yaml --timeout 77 " + kFast +
                          " -q --format json -o " + dir + "/t.json");
  ASSERT_EQ(entry.exit_code, 0) << entry.err;
  EXPECT_EQ(json::parse(entry.out)["results"][0]["run"]["timeout"], 77);
  Command own = dlbench("run --suite " + dir + "/entry.yaml " + std::string(kFast) +
                        " -q --format json -o " + dir + "/u.json");
  EXPECT_EQ(json::parse(own.out)["results"][0]["run"]["timeout"], 30);
}

TEST(Cli, RealOutOfMemoryFailsThatProblemOnly) {
  // An address-space limit makes LibTorch's allocator fail for real: 3 x 8 GiB arrays.
  std::string dir = testing::temp_dir();
  std::string command = "ulimit -v 4000000; " + std::string(DLBENCH_BINARY) +
                        " run micro/stream n=1Gi micro/gemm m=64 n=64 k=64 --dry-run -q -o " + dir +
                        "/oom.json >/dev/null 2>&1";
  int status = std::system(("bash -c '" + command + "'").c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  ResultsDocument doc = ResultsDocument::load(dir + "/oom.json");
  ASSERT_EQ(doc.results.size(), 2u);
  EXPECT_EQ(doc.results[0].status, Status::kFailed);
  EXPECT_EQ(doc.results[0].reason.rfind("out of memory: ", 0), 0u) << doc.results[0].reason;
  EXPECT_EQ(doc.results[1].status, Status::kPassed) << doc.results[1].reason;
}

TEST(Cli, InProcessCrashKeepsEarlierResults) {
  std::string dir = testing::temp_dir();
  std::string file = dir + "/crash.json";
  Command r = dlbench(std::string("run --no-isolate test/sleep ms=1 test/fault fault=segv ") +
                      "test/sleep ms=1 -q " + kFast + " -o " + file);
  EXPECT_EQ(r.exit_code, 128 + 11) << r.err;
  ResultsDocument doc = ResultsDocument::load(file);  // still a complete, valid file
  ASSERT_EQ(doc.results.size(), 1u);
  EXPECT_EQ(doc.results[0].status, Status::kPassed);
}

TEST(Cli, InterruptStopsTheRunAndKeepsResults) {
  std::string dir = testing::temp_dir();
  std::string file = dir + "/int.json";
  std::string command = "timeout --preserve-status -s TERM 6 " + std::string(DLBENCH_BINARY) +
                        " run test/sleep ms=1 test/fault fault=hang test/sleep ms=1 -q " + kFast +
                        " -o " + file + " >/dev/null 2>&1";
  int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  ResultsDocument doc = ResultsDocument::load(file);
  ASSERT_EQ(doc.results.size(), 2u);
  EXPECT_EQ(doc.results[1].reason, "interrupted by the user");
}

}  // namespace
}  // namespace dlbench

namespace dlbench {
namespace {

TEST(Cli, TunesOpenMpWaitingUnlessTheUserChoseAPolicy) {
  auto environment_of = [](const std::string& env) {
    std::string dir = testing::temp_dir();
    std::string command = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u DLBENCH_OPENMP_TUNED " +
                          env + " " + std::string(DLBENCH_BINARY) + " info --format json >" + dir +
                          "/out 2>/dev/null </dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(dir + "/out");
    nlohmann::json context = nlohmann::json::parse(in);
    return context.value("environment", nlohmann::json::object());
  };
  // Nothing chosen: dlbench restarts itself with a short spin (docs/metrics.md, "Threads").
  nlohmann::json tuned = environment_of("");
  EXPECT_EQ(tuned.value("GOMP_SPINCOUNT", ""), "10000") << tuned.dump();
  // A user's policy is kept and recorded.
  nlohmann::json chosen = environment_of("OMP_WAIT_POLICY=active");
  EXPECT_EQ(chosen.value("OMP_WAIT_POLICY", ""), "active") << chosen.dump();
  EXPECT_FALSE(chosen.contains("GOMP_SPINCOUNT")) << chosen.dump();
}

}  // namespace
}  // namespace dlbench

namespace dlbench {
namespace {

/// Writes `bytes` bytes of `fill` to `path`.
void write_filled(const std::string& path, size_t bytes, char fill) {
  std::ofstream out(path, std::ios::binary);
  std::string block(1 << 20, fill);
  for (size_t left = bytes; left > 0;) {
    size_t n = std::min(left, block.size());
    out.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
}

/// A corrupt data file (the right size, garbage inside) fails its quality problem with one line
/// naming the file, exit status 1, and the problem measured before it is kept in the results.
TEST(Cli, CorruptDataFailsOneProblemAndKeepsTheOthers) {
  std::string data_dir = testing::temp_dir();
  std::string mnist = data_dir + "/mnist";
  ASSERT_EQ(std::system(("mkdir -p " + mnist).c_str()), 0);
  write_filled(mnist + "/train-images-idx3-ubyte", 47040016, '\x7f');
  write_filled(mnist + "/train-labels-idx1-ubyte", 60008, 0);
  write_filled(mnist + "/t10k-images-idx3-ubyte", 7840016, 0);
  write_filled(mnist + "/t10k-labels-idx1-ubyte", 10008, 0);
  std::string out = testing::temp_dir() + "/results.json";
  Command r = dlbench("run --no-peak --data-dir " + data_dir + " -o " + out +
                      " 'micro/gemm m=64 n=64 k=64' 'model/lenet size=tiny mode=quality'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("FAILED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("train-images-idx3-ubyte"), std::string::npos) << r.err;
  ResultsDocument doc = ResultsDocument::load(out);
  ASSERT_EQ(doc.results.size(), 2u);
  EXPECT_EQ(doc.results[0].status, Status::kPassed);
  EXPECT_EQ(doc.results[1].status, Status::kFailed);
  EXPECT_NE(doc.results[1].reason.find("train-images-idx3-ubyte"), std::string::npos);
  EXPECT_EQ(doc.results[1].reason.find('\n'), std::string::npos);
}

/// `dlbench data list` names every data set and where it would be; an unknown one in `fetch`
/// is one clear error with exit status 2.
TEST(Cli, DataListAndUnknownDataSet) {
  std::string data_dir = testing::temp_dir();
  Command list = dlbench("data --data-dir " + data_dir + " list");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  for (const char* name : {"mnist", "fashion_mnist", "noaa", "fortunes"}) {
    EXPECT_NE(list.out.find(name), std::string::npos) << name;
  }
  EXPECT_NE(list.out.find("missing"), std::string::npos);
  Command fetch = dlbench("data --data-dir " + data_dir + " fetch imagenet");
  EXPECT_EQ(fetch.exit_code, 2);
  EXPECT_NE(fetch.err.find("unknown data set 'imagenet'"), std::string::npos) << fetch.err;
}

}  // namespace
}  // namespace dlbench
