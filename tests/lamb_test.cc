// nn/lamb: one step against the trust ratio computed by hand, zero parameters taking the unscaled
// step, the global gradient norm clipped to one, and parameters without gradients left alone.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <vector>

#include "nn/lamb.h"

namespace dlbench {
namespace {

using nn::Lamb;
using nn::LambOptions;

/// Runs LAMB on one 2-element parameter with the given gradients; returns the final values.
std::vector<double> run_lamb(std::vector<double> start,
                             const std::vector<std::vector<double>>& grads, LambOptions options) {
  torch::Tensor p = torch::tensor(start, torch::kDouble).requires_grad_(true);
  Lamb lamb({p}, options);
  for (const auto& g : grads) {
    p.mutable_grad() = torch::tensor(g, torch::kDouble);
    lamb.step();
  }
  EXPECT_EQ(lamb.steps(), static_cast<int64_t>(grads.size()));
  return {p[0].item<double>(), p[1].item<double>()};
}

TEST(Lamb, OneStepAppliesTheTrustRatio) {
  // p = (1, 2), g = (0.3, 0.4) (norm 0.5: no clipping). Bias-corrected moments give
  // u = g / (|g| + eps) + wd p = (1.0099967, 1.0199975); ||p|| / ||u|| = 2.2360680 / 1.4354401
  // = 1.5577555; p - 0.1 x 1.5577555 x u.
  std::vector<double> p = run_lamb({1.0, 2.0}, {{0.3, 0.4}}, LambOptions(0.1).weight_decay(0.01));
  EXPECT_NEAR(p[0], 0.842666979541808, 1e-12);
  EXPECT_NEAR(p[1], 1.841109091910512, 1e-12);
}

TEST(Lamb, ZeroParametersTakeTheUnscaledStep) {
  // ||p|| = 0: the trust ratio falls back to 1, so p = -lr x g / (|g| + eps).
  std::vector<double> p = run_lamb({0.0, 0.0}, {{0.3, 0.4}}, LambOptions(0.1).weight_decay(0.01));
  EXPECT_NEAR(p[0], -0.09999966666777779, 1e-12);
  EXPECT_NEAR(p[1], -0.09999975000062501, 1e-12);
}

TEST(Lamb, GlobalGradientNormIsClippedToOne) {
  // Without weight decay there is no trust ratio: the step is Adam's. The first gradient
  // (3, 4) has norm 5 and is divided by 5; the second (0.3, -0.4) is left alone. Clipping
  // changes the second step: (0.8067824, 1.8733665) with it, (0.8259190, 1.8407352) without.
  std::vector<std::vector<double>> grads = {{3.0, 4.0}, {0.3, -0.4}};
  std::vector<double> clipped = run_lamb({1.0, 2.0}, grads, LambOptions(0.1).weight_decay(0));
  EXPECT_NEAR(clipped[0], 0.8067823993350568, 1e-12);
  EXPECT_NEAR(clipped[1], 1.8733664631516418, 1e-12);
  std::vector<double> unclipped =
      run_lamb({1.0, 2.0}, grads, LambOptions(0.1).weight_decay(0).max_grad_norm(1e9));
  EXPECT_NEAR(unclipped[0], 0.8259190038089101, 1e-12);
  EXPECT_NEAR(unclipped[1], 1.840735194428998, 1e-12);
}

TEST(Lamb, ParametersWithoutGradientsAreLeftAlone) {
  torch::Tensor a = torch::ones({3}, torch::kDouble).requires_grad_(true);
  torch::Tensor b = torch::ones({3}, torch::kDouble).requires_grad_(true);
  Lamb lamb({a, b}, LambOptions(0.1));
  a.mutable_grad() = torch::full({3}, 0.1, torch::kDouble);
  lamb.step();
  EXPECT_TRUE(torch::equal(b, torch::ones({3}, torch::kDouble)));
  EXPECT_LT(a[0].item<double>(), 1.0);
  EXPECT_EQ(lamb.defaults().get_lr(), 0.1);
}

}  // namespace
}  // namespace dlbench
