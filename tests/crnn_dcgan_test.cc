// model/crnn and model/dcgan: the greedy CTC decoder and the Adadelta optimizer against
// hand-computed values; parameter counts and FLOPs of the full presets counted by hand (layer by
// layer, in docs/workloads/crnn.md and dcgan.md); the GAN step leaves D trainable.
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
#include "workloads/model/model.h"
#include "workloads/model/vision/ctc.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;
using testing::set_up_model;

/// Scores [T, B, C] whose per-frame argmax is `best[b][t]`.
torch::Tensor one_hot_scores(const std::vector<std::vector<int64_t>>& best, int64_t classes) {
  const int64_t batch = static_cast<int64_t>(best.size());
  const int64_t frames = static_cast<int64_t>(best[0].size());
  torch::Tensor scores = torch::full({frames, batch, classes}, -3.0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < frames; ++t) {
      scores[t][b][best[static_cast<size_t>(b)][static_cast<size_t>(t)]] = 2.0;
    }
  }
  return scores;
}

TEST(CrnnGreedyDecode, CollapsesRepeatsAndDropsBlanks) {
  // Frames (blank = 0):  1 1 0 1 2 2  -> "1 1 2" (the blank separates the two 1s)
  //                      0 3 3 0 0 3  -> "3 3"
  //                      0 0 0 0 0 0  -> ""
  //                      2 2 2 2 2 2  -> "2"
  torch::Tensor scores = one_hot_scores(
      {{1, 1, 0, 1, 2, 2}, {0, 3, 3, 0, 0, 3}, {0, 0, 0, 0, 0, 0}, {2, 2, 2, 2, 2, 2}}, 4);
  auto labels = model::ctc_greedy_decode(scores, 0);
  ASSERT_EQ(labels.size(), 4u);
  EXPECT_EQ(labels[0], (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(labels[1], (std::vector<int64_t>{3, 3}));
  EXPECT_TRUE(labels[2].empty());
  EXPECT_EQ(labels[3], (std::vector<int64_t>{2}));
}

TEST(CrnnGreedyDecode, UsesTheArgmaxOfRealValuedScoresAndAnyBlankIndex) {
  // One sequence, 3 classes, blank = 2. Frame argmaxes: 0, 2, 0, 1, 1 -> "0 0 1".
  torch::Tensor scores =
      torch::tensor(
          {{0.5, 0.1, 0.2}, {0.1, 0.2, 0.9}, {0.7, -1.0, 0.6}, {0.0, 0.3, 0.2}, {-2.0, -0.5, -0.7}})
          .unsqueeze(1);
  auto labels = model::ctc_greedy_decode(scores, 2);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0], (std::vector<int64_t>{0, 0, 1}));
}

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

TEST(CrnnModel, FullPresetCountsByHand) {
  auto m = make_model("model/crnn size=full mode=infer");
  ASSERT_NE(m, nullptr);
  // Convs 640 + 73,856 + 295,168 + 590,080 + 1,180,160 + 2,359,808 + 1,049,088, two batch
  // norms of 512 channels 2,048; BiLSTM 1 (512 -> 256) 1,576,960 + projection 512 -> 256
  // 131,328; BiLSTM 2 (256 -> 256) 1,052,672 + projection 512 -> 37 18,981.
  EXPECT_EQ(m->parameter_count(), 8330789);
  // Forward per image: convs 1,266,171,904 + recurrent part 144,115,712 (26 frames).
  ModelWorkload::Flops f = m->analytic_flops();
  EXPECT_DOUBLE_EQ(f.forward, 1410287616.0);
  EXPECT_DOUBLE_EQ(f.train, 3 * 1410287616.0 - 3686400.0);
  EXPECT_EQ(m->batch(), 64);
}

TEST(CrnnModel, RefusesLabelsLongerThanCtcCanAlign) {
  // 100 px -> 26 frames: 2 x 14 - 1 = 27 frames would be needed for 14 labels with repeats.
  EXPECT_THROW(make_model("model/crnn size=tiny max_label=14"), Error);
  EXPECT_NE(make_model("model/crnn size=tiny max_label=13"), nullptr);
}

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
