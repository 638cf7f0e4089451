// The files the dlbench binary writes, end to end: results to devices, FIFOs, standard output
// and through symlinks; directories refused; one run per results file; suite names kept inside
// results/; results kept through a full disk; io/storage's shards removed however its problem
// ends; charts written without following planted links.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/result.h"
#include "test_util.h"

namespace dlbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Command;
using testing::dlbench;

const std::string kTiny = "micro/gemm m=8 n=8 k=8 --dry-run -q --no-peak";
const std::string kShortRules =
    " --min-steps 2 --repeats 1 --warmup-steps 0 --warmup-time 0 --no-peak -q";

using testing::mode_of;
using testing::names_in;
using testing::read_fifo;
using testing::read_text;

/// Runs `ENV dlbench ARGS` in `dir` (the working directory), capturing everything.
Command dlbench_in(const std::string& dir, const std::string& args, const std::string& env = "") {
  std::string capture = testing::temp_dir();
  std::string command = "cd '" + dir + "' && " + env + " " + DLBENCH_BINARY + " " + args + " >" +
                        capture + "/out 2>" + capture + "/err </dev/null";
  int status = std::system(command.c_str());
  Command result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(capture + "/out");
  result.err = read_text(capture + "/err");
  return result;
}

/// A small tmpfs mounted for one test; ok() is false where mounting is not possible.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& size) : dir_(testing::temp_dir()) {
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!mounted_) reason_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_ && ::umount(dir_.c_str()) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string reason_;
  bool mounted_ = false;
};

TEST(CliFiles, ResultsToACharacterDeviceLeaveTheDeviceInPlace) {
  // A private null device (as /dev/null is: major 1, minor 3), so that a broken build cannot
  // replace the machine's /dev/null.
  std::string dir = testing::temp_dir();
  std::string device = dir + "/null";
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot create a device node here (" << std::strerror(errno) << ")";
  }
  Command r = dlbench("run " + kTiny + " -o " + device);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(S_ISCHR(mode_of(device))) << "the device was replaced by a file";
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"null"});
}

TEST(CliFiles, ResultsToAFifoArriveOnceAndTheFifoStays) {
  std::string fifo = testing::temp_dir() + "/results.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = read_fifo(fifo); });
  Command r = dlbench("run " + kTiny + " micro/gemm m=4 n=4 k=4 -o " + fifo);
  reader.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo))) << "the FIFO was replaced by a file";
  json document = json::parse(received);  // one document, not one per problem
  EXPECT_EQ(document["results"].size(), 2u);
}

TEST(CliFiles, DashWritesTheResultsToStandardOutput) {
  Command r = dlbench("run " + kTiny + " -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json document = json::parse(r.out);  // only the results: no table around them
  ASSERT_EQ(document["results"].size(), 1u);
  EXPECT_EQ(document["results"][0]["workload"], "micro/gemm");
}

TEST(CliFiles, ADirectoryIsRefusedWithOneLineBeforeAnythingRuns) {
  std::string dir = testing::temp_dir();
  Command r = dlbench("run test/sleep ms=5000 --min-time 10 -o " + dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "dlbench: error: cannot write results file '" + dir +
                       "': it is a directory; give a file name\n");
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(CliFiles, ResultsThroughASymlinkUpdateItsTargetAndKeepTheLink) {
  std::string targets = testing::temp_dir();
  std::string links = testing::temp_dir();
  testing::write_file(targets + "/r.json", "old");
  fs::create_symlink(targets + "/r.json", links + "/latest.json");
  Command r = dlbench("run " + kTiny + " -o " + links + "/latest.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(S_ISLNK(mode_of(links + "/latest.json")));
  EXPECT_EQ(ResultsDocument::load(targets + "/r.json").results.size(), 1u);
  EXPECT_EQ(names_in(targets), std::vector<std::string>{"r.json"});
  EXPECT_EQ(names_in(links), std::vector<std::string>{"latest.json"});
}

TEST(CliFiles, RooflineNeverFollowsAPlantedTemporaryLink) {
  std::string dir = testing::temp_dir();
  ASSERT_EQ(dlbench("run " + kTiny + " -o " + dir + "/r.json").exit_code, 0);
  std::string victim = testing::temp_dir() + "/victim";
  testing::write_file(victim, "precious");
  fs::create_symlink(victim, dir + "/chart.svg.tmp");
  Command r = dlbench("roofline " + dir + "/r.json -o " + dir + "/chart.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(victim), "precious");
  EXPECT_EQ(read_text(dir + "/chart.svg").rfind("<svg", 0), 0u);
}

TEST(CliFiles, RooflineToADirectoryOrNowhereSaysWhyAndLeavesNothing) {
  std::string dir = testing::temp_dir();
  ASSERT_EQ(dlbench("run " + kTiny + " -o " + dir + "/r.json").exit_code, 0);
  fs::create_directory(dir + "/charts");
  Command r = dlbench("roofline " + dir + "/r.json -o " + dir + "/charts");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "dlbench: error: cannot write the chart '" + dir +
                       "/charts': it is a directory; give a file name\n");
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"charts", "r.json"}));
  EXPECT_TRUE(fs::is_empty(dir + "/charts"));

  Command missing = dlbench("roofline " + dir + "/r.json -o " + dir + "/no/such/chart.svg");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "dlbench: error: cannot write the chart '" + dir +
                             "/no/such/chart.svg': No such file or directory\n");
}

TEST(CliFiles, SecondRunOnTheSameResultsFileIsRefusedBeforeItMeasures) {
  std::string dir = testing::temp_dir();
  std::string path = dir + "/shared.json";
  // The first run measures for about 3 s.
  Command first;
  std::thread first_run([&] {
    first = dlbench(
        "run test/sleep ms=10 --min-time 6 --min-steps 1 --repeats 1 "
        "--warmup-steps 0 --warmup-time 0 --no-peak -q -o " +
        path);
  });
  auto start = std::chrono::steady_clock::now();
  while (!fs::exists(dir + "/.shared.json.lock") &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fs::create_symlink(path, dir + "/link.json");
  Command second = dlbench("run " + kTiny + " -o " + path);
  Command through_link = dlbench("run " + kTiny + " -o " + dir + "/link.json");
  first_run.join();

  EXPECT_EQ(second.exit_code, 2);
  EXPECT_EQ(testing::count_lines(second.err), 1u) << second.err;
  EXPECT_EQ(second.err.rfind("dlbench: error: results file '" + path +
                                 "' is being written by another dlbench run (pid ",
                             0),
            0u)
      << second.err;
  EXPECT_EQ(through_link.exit_code, 2) << through_link.err;
  // The first run kept its results, and nothing of the second is in the file.
  EXPECT_EQ(first.exit_code, 0) << first.err;
  ResultsDocument document = ResultsDocument::load(path);
  ASSERT_EQ(document.results.size(), 1u);
  EXPECT_EQ(document.results[0].workload, "test/sleep");
  EXPECT_FALSE(fs::exists(dir + "/.shared.json.lock")) << "the lock file outlived the run";
}

TEST(CliFiles, SuiteNameCannotLeadOutsideResults) {
  std::string top = testing::temp_dir();
  std::string work = top + "/a/b";
  fs::create_directories(work);
  testing::write_file(work + "/escape.yaml",
                      "name: ../../../escaped\nproblems: [micro/gemm m=8 n=8 k=8]\n");
  Command r = dlbench_in(work, "run --suite escape.yaml --dry-run -q --no-peak");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(names_in(top), std::vector<std::string>{"a"});
  EXPECT_EQ(names_in(top + "/a"), std::vector<std::string>{"b"});
  std::vector<std::string> results = names_in(work + "/results");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].rfind("escaped-", 0), 0u) << results[0];
  EXPECT_NE(r.err.find("results: results/escaped-"), std::string::npos) << r.err;
}

TEST(CliFiles, FullDiskKeepsMeasuringAndNothingIsLost) {
  SmallTmpfs tmpfs("1m");
  if (!tmpfs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.reason() << ")";
  std::string fallback_dir = testing::temp_dir();
  std::string path = tmpfs.dir() + "/r.json";
  // Once two results are saved, the disk fills up.
  std::atomic<bool> done{false};
  std::thread filler([&] {
    while (!done) {
      try {
        if (ResultsDocument::load(path).results.size() >= 2) break;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    int fd = ::open((tmpfs.dir() + "/filler").c_str(), O_WRONLY | O_CREAT, 0644);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    while (::write(fd, block.data(), 1) > 0) {
    }
    ::close(fd);
  });
  std::string problems;
  for (int i = 0; i < 6; ++i) problems += " test/sleep ms=20";
  Command r = dlbench_in(".", "run" + problems + kShortRules + " --min-time 0.3 -o " + path,
                         "TMPDIR=" + fallback_dir);
  done = true;
  filler.join();

  EXPECT_NE(r.exit_code, 0) << r.err;
  // The file keeps the last save that fitted (2 results, or 3 if the filler was late).
  size_t kept = ResultsDocument::load(path).results.size();
  EXPECT_GE(kept, 2u);
  EXPECT_LT(kept, 6u);
  size_t failed_lines = 0;
  for (size_t at = 0; (at = r.err.find("kept in memory", at)) != std::string::npos; ++at) {
    ++failed_lines;
  }
  EXPECT_EQ(failed_lines, 6 - kept) << r.err;  // one line per failed save
  EXPECT_NE(r.err.find("No space left on device; result " + std::to_string(kept + 1) +
                       " of 6 (test/sleep"),
            std::string::npos)
      << r.err;
  std::vector<std::string> fallback = names_in(fallback_dir);
  ASSERT_EQ(fallback.size(), 1u) << r.err;
  std::string fallback_path = fallback_dir + "/" + fallback[0];
  EXPECT_NE(r.err.find("the results (6 results) are in '" + fallback_path + "'"), std::string::npos)
      << r.err;
  ResultsDocument saved = ResultsDocument::load(fallback_path);
  ASSERT_EQ(saved.results.size(), 6u);
  for (const Result& result : saved.results) EXPECT_EQ(result.status, Status::kPassed);
}

TEST(CliFiles, StorageShardsAreRemovedWhenItsProblemIsKilled) {
  std::string io_dir = testing::temp_dir();
  std::string tmp_dir = testing::temp_dir();
  Command r = dlbench_in(".",
                         "run 'io/storage samples=64 sample_bytes=4096 batch=8 shards=2 "
                         "compute_ms=500 au_threshold=0' --timeout 3 --min-time 20 -q --no-peak "
                         "-o " +
                             tmp_dir + "/r.json",
                         "DLBENCH_IO_DIR=" + io_dir + " TMPDIR=" + tmp_dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ResultsDocument document = ResultsDocument::load(tmp_dir + "/r.json");
  ASSERT_EQ(document.results.size(), 1u);
  EXPECT_NE(document.results[0].reason.find("timed out"), std::string::npos)
      << document.results[0].reason;
  EXPECT_TRUE(fs::is_empty(io_dir)) << "shards left behind: " << names_in(io_dir)[0];
  EXPECT_EQ(names_in(tmp_dir), std::vector<std::string>{"r.json"});
}

TEST(CliFiles, StorageSizesAreBoundedAndCheckedAgainstFreeSpace) {
  Command huge = dlbench("describe io/storage samples=100000000 sample_bytes=1Gi");
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_EQ(testing::count_lines(huge.err), 1u) << huge.err;
  EXPECT_NE(huge.err.find("samples=100000000 x sample_bytes=1073741824"), std::string::npos)
      << huge.err;
  Command too_many = dlbench("describe io/storage samples=4294967296");
  EXPECT_EQ(too_many.exit_code, 2);
  EXPECT_NE(too_many.err.find("samples"), std::string::npos) << too_many.err;

  SmallTmpfs tmpfs("1m");
  if (!tmpfs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.reason() << ")";
  std::string out = testing::temp_dir();
  Command r = dlbench_in(".",
                         "run 'io/storage samples=64 sample_bytes=65536 batch=8 compute_ms=1' "
                         "--dry-run -q --no-peak -o " +
                             out + "/r.json",
                         "DLBENCH_IO_DIR=" + tmpfs.dir());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ResultsDocument document = ResultsDocument::load(out + "/r.json");
  ASSERT_EQ(document.results.size(), 1u);
  EXPECT_NE(document.results[0].reason.find("MiB free: lower samples"), std::string::npos)
      << document.results[0].reason;
  EXPECT_TRUE(fs::is_empty(tmpfs.dir()));
}

}  // namespace
}  // namespace dlbench
