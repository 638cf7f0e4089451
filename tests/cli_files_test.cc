// The files the dlbench binary writes, end to end: charts written without following planted
// links, and refused with the system's reason.
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
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
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

}  // namespace
}  // namespace dlbench
