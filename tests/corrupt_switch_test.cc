// The corrupt switch (DLBENCH_TEST_CORRUPT_OUTPUT) makes the correctness check of every memory-
// and sequence-layer micro workload fail: each check really compares the output it measured.
#include <gtest/gtest.h>

#include "core/result.h"
#include "test_util.h"

namespace dlbench {
namespace {

/// Runs each problem with the switch on: each must FAIL its check, and say the switch did it.
void expect_each_check_fails(const std::vector<const char*>& problems) {
  testing::ScopedEnv corrupt("DLBENCH_TEST_CORRUPT_OUTPUT", "1");
  for (const char* problem : problems) {
    Result r = testing::run_problem(problem);
    EXPECT_EQ(r.status, Status::kFailed) << problem;
    EXPECT_NE(r.check.detail.find("test switch"), std::string::npos)
        << problem << ": " << r.check.detail;
  }
}

TEST(CorruptSwitch, EmbeddingSoftmaxAndElementwiseChecksFail) {
  expect_each_check_fails(
      {"micro/embedding rows=500 dim=12 bags=7 bag_size=5",
       "micro/embedding rows=500 dim=12 bags=7 bag_size=5 pass=bwd distribution=zipf",
       "micro/softmax rows=5 cols=33", "micro/softmax rows=5 cols=33 pass=bwd log=true",
       "micro/elementwise elements=1001 op=add_relu"});
}

TEST(CorruptSwitch, NormPoolAndActivationChecksFailWhereTheyPassWithout) {
  const std::vector<const char*> problems = {
      "micro/norm n=3 c=6 h=5 w=7 groups=3 type=group pass=fwd",
      "micro/norm n=3 c=6 h=5 w=7 type=batch pass=bwd",
      "micro/pool n=2 c=3 h=11 w=9 type=max pass=fwd",
      "micro/pool n=2 c=3 h=11 w=9 type=avg pass=bwd layout=nhwc",
      "micro/activation elements=1001 type=gelu pass=fwd",
      "micro/activation elements=1001 type=sigmoid pass=bwd",
  };
  for (const char* problem : problems) testing::expect_sane(testing::run_problem(problem));
  expect_each_check_fails(problems);
}

TEST(CorruptSwitch, RnnAndAttentionChecksFail) {
  expect_each_check_fails({
      "micro/rnn cell=gru input=5 hidden=4 batch=2 timesteps=3",
      "micro/rnn cell=lstm input=5 hidden=4 batch=2 timesteps=3 pass=bwd",
      "micro/attention batch=1 heads=2 seq=6 head_dim=8",
      "micro/attention batch=1 heads=2 seq=6 head_dim=8 pass=bwd causal=true",
  });
}

}  // namespace
}  // namespace dlbench
