// What a user sees while `dlbench run` works: heartbeat lines for a long problem (from the
// isolated child, through its progress pipe), the suite's estimate, and silence under -q.
#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"

namespace dlbench {
namespace {

using testing::dlbench;

/// The stderr lines that are heartbeats: indented, elapsed time first.
std::vector<std::string> heartbeats(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("    ", 0) == 0 && line.find("repetition") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

TEST(Progress, ALongProblemReportsAHeartbeatEveryTwoSecondsAfterFive) {
  std::string dir = testing::temp_dir();
  // About 8 s of 100 ms steps in one repetition.
  auto c = dlbench(
      "run 'test/sleep ms=100' --min-time 8 --min-steps 1 --repeats 1 "
      "--warmup-steps 0 --warmup-time 0 --no-check -o " +
      dir + "/r.json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::vector<std::string> beats = heartbeats(c.err);
  // At 5 and 7 s at least (a loaded machine may delay one, never add one before 5 s).
  ASSERT_GE(beats.size(), 1u) << c.err;
  EXPECT_LE(beats.size(), 3u) << c.err;
  EXPECT_NE(beats[0].find("repetition 1/1, step"), std::string::npos) << beats[0];
  EXPECT_NE(beats[0].find("left"), std::string::npos) << beats[0];
}

TEST(Progress, QuietSilencesHeartbeatsAndProgressLines) {
  std::string dir = testing::temp_dir();
  auto c = dlbench(
      "run -q 'test/sleep ms=100' --min-time 6 --min-steps 1 --repeats 1 "
      "--warmup-steps 0 --warmup-time 0 --no-check -o " +
      dir + "/r.json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(heartbeats(c.err).empty()) << c.err;
  EXPECT_EQ(c.err.find("running"), std::string::npos) << c.err;
}

TEST(Progress, ASuiteStatesWhatIsLeft) {
  std::string dir = testing::temp_dir();
  auto c = dlbench("run 'test/sleep ms=1' 'test/sleep ms=2' 'test/sleep ms=3' --dry-run -o " + dir +
                   "/r.json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("[1/3] running"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("[3/3] running  test/sleep"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("left)"), std::string::npos) << c.err;
}

}  // namespace
}  // namespace dlbench
