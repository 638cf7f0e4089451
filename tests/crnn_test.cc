// model/crnn: the greedy CTC decoder against hand-computed frames, the full preset's parameter
// count and FLOPs counted by hand (layer by layer, docs/workloads/crnn.md), and labels longer than
// CTC can align refused.
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
#include "workloads/model/vision/ctc.h"

namespace dlbench {
namespace {

using model::ModelWorkload;
using testing::make_model;

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

}  // namespace
}  // namespace dlbench
