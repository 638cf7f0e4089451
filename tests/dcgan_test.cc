// model/dcgan: the full preset's parameter count and FLOPs counted by hand
// (docs/workloads/dcgan.md), and the GAN step leaving the discriminator trainable.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "test_util.h"
#include "workloads/model/model.h"

namespace dlbench {
namespace {

using testing::make_model;
using testing::set_up_model;

TEST(DcganModel, FullPresetCountsByHand) {
  auto train = make_model("model/dcgan size=full mode=train");
  auto infer = make_model("model/dcgan size=full mode=infer");
  ASSERT_NE(train, nullptr);
  ASSERT_NE(infer, nullptr);
  // G 12,824,449 (linear 8,519,680, transposed convs 3,277,056 + 819,328 + 204,864 + 1,601,
  // batch norms 1,920); D 4,436,225 (convs 1,664 + 204,928 + 819,456 + 3,277,312, batch norms
  // 1,792, linear 131,073).
  EXPECT_EQ(infer->parameter_count(), 17260674);
  // Per map: G 5,102,370,816 FLOPs (first layer 16,777,216), D 5,085,855,744 (first 52,428,800).
  EXPECT_DOUBLE_EQ(infer->analytic_flops().forward, 5102370816.0);
  EXPECT_DOUBLE_EQ(train->analytic_flops().forward, 5102370816.0);  // one inference pass
  EXPECT_DOUBLE_EQ(train->analytic_flops().train, 60974694400.0);
  EXPECT_THROW(make_model("model/dcgan image=40"), Error);
}

TEST(DcganModel, GeneratorUpdateLeavesTheDiscriminatorTrainable) {
  // The generator update freezes D's weights; parameter_count() counts only parameters that
  // require a gradient, so a D left frozen after the step would shrink it.
  auto m = set_up_model("model/dcgan size=tiny mode=train");
  ASSERT_NE(m, nullptr);
  const int64_t before = m->parameter_count();
  m->step();
  EXPECT_TRUE(std::isfinite(m->last_loss()));
  EXPECT_EQ(m->parameter_count(), before);
  m->teardown();
}

}  // namespace
}  // namespace dlbench
