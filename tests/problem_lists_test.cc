// Problem lists (inputs/...): suite entries that expand a list with parameters and rules, and
// every shipped list resolving.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "harness/suite.h"
#include "test_util.h"

namespace dlbench {
namespace {

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

}  // namespace
}  // namespace dlbench
