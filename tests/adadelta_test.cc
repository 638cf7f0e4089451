// nn/adadelta: two steps against Zeiler's algorithm computed by hand, the learning rate and weight
// decay, and parameters without gradients left alone.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "nn/adadelta.h"
#include "test_util.h"

namespace dlbench {
namespace {

TEST(Adadelta, TwoStepsMatchZeilersAlgorithmByHand) {
  // x = (1, -2), the same gradient g = (0.5, -1) twice, rho 0.9, eps 1e-6, lr 1.
  // Step 1: E[g^2] = 0.1 g^2 = (0.025, 0.1); dx = sqrt(1e-6) / sqrt(E[g^2] + 1e-6) g
  //   = (3.16224e-3, -3.16226e-3); x = (0.99683779, -1.99683774); E[dx^2] = 0.1 dx^2.
  // Step 2: E[g^2] = (0.0475, 0.19); dx = sqrt(E[dx^2] + 1e-6) / sqrt(E[g^2] + 1e-6) g.
  torch::Tensor x = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  nn::Adadelta optimizer({x}, nn::AdadeltaOptions(1.0).rho(0.9).eps(1e-6));
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    x.mutable_grad() = torch::tensor({0.5, -1.0}, torch::kDouble);
    optimizer.step();
    if (step == 0) {
      EXPECT_NEAR(x[0].item<double>(), 0.9968377855834876, 1e-12);
      EXPECT_NEAR(x[1].item<double>(), -1.9968377381511013, 1e-12);
    }
  }
  EXPECT_NEAR(x[0].item<double>(), 0.9935934237550185, 1e-12);
  EXPECT_NEAR(x[1].item<double>(), -1.9935933263774006, 1e-12);
}

TEST(Adadelta, LearningRateScalesTheStepAndWeightDecayAddsToTheGradient) {
  // lr 0.5, weight decay 0.1: g = (0.5 + 0.1, -1 - 0.2) = (0.6, -1.2); one step:
  // dx = sqrt(1e-6) / sqrt(0.1 g^2 + 1e-6) g; x -= 0.5 dx.
  torch::Tensor x = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  nn::Adadelta optimizer({x}, nn::AdadeltaOptions(0.5).weight_decay(0.1));
  x.mutable_grad() = torch::tensor({0.5, -1.0}, torch::kDouble);
  optimizer.step();
  EXPECT_NEAR(x[0].item<double>(), 0.9984188831297198, 1e-12);
  EXPECT_NEAR(x[1].item<double>(), -1.9984188666599525, 1e-12);
}

TEST(Adadelta, SkipsParametersWithoutGradients) {
  torch::Tensor x = torch::ones({3}, torch::kDouble).requires_grad_(true);
  nn::Adadelta optimizer({x});
  optimizer.step();
  EXPECT_TRUE(torch::equal(x, torch::ones({3}, torch::kDouble)));
}

}  // namespace
}  // namespace dlbench
