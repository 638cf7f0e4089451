// The box utilities of the detection models (src/workloads/model/vision/detection.h) against
// hand-computed values: IoU, greedy NMS, box coding, default boxes and anchors, matching,
// RoIAlign (against a direct bilinear computation) and per-class post-processing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "workloads/model/vision/detection.h"

namespace dlbench::model {
namespace {

torch::Tensor boxes_of(std::vector<std::vector<float>> rows) {
  std::vector<float> flat;
  for (auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return torch::tensor(flat).view({-1, 4});
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST(DetectionBoxes, IouOfKnownBoxes) {
  torch::Tensor a = boxes_of({{0, 0, 2, 2}});
  torch::Tensor b = boxes_of({{1, 1, 3, 3}, {0, 0, 2, 2}, {3, 3, 4, 4}, {0, 0, 1, 2}});
  torch::Tensor iou = box_iou(a, b);
  ASSERT_EQ(iou.sizes(), (std::vector<int64_t>{1, 4}));
  EXPECT_NEAR(iou[0][0].item<float>(), 1.0 / 7.0, 1e-6);  // 1 / (4 + 4 - 1)
  EXPECT_NEAR(iou[0][1].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(iou[0][2].item<float>(), 0.0, 1e-6);
  EXPECT_NEAR(iou[0][3].item<float>(), 0.5, 1e-6);  // 2 / 4
  // Leading dimensions broadcast: [2, 1, 4] x [4, 4] -> [2, 1, 4].
  EXPECT_EQ(box_iou(torch::stack({a, a}), b).sizes(), (std::vector<int64_t>{2, 1, 4}));
}

// Boxes: 0 (0,0,10,10) .9; 1 (1,0,11,10) .8 (IoU with 0: 90/110 = .818); 2 (20,20,30,30) .7;
// 3 (5,0,15,10) .85 (IoU with 0: 50/150 = .333); 4 (9,0,19,10) .6 (IoU with 3: 60/140 = .43,
// with 0: 10/190, with 1: 20/180).
torch::Tensor nms_boxes() {
  return boxes_of(
      {{0, 0, 10, 10}, {1, 0, 11, 10}, {20, 20, 30, 30}, {5, 0, 15, 10}, {9, 0, 19, 10}});
}
torch::Tensor nms_scores() { return torch::tensor({0.9f, 0.8f, 0.7f, 0.85f, 0.6f}); }

TEST(DetectionNms, KeepsTheRightIndicesInScoreOrder) {
  // At 0.5: 0 keeps, 3 keeps (.333), 1 goes (.818 with 0), 2 keeps, 4 keeps (.43 with 3).
  EXPECT_EQ(to_vector(nms(nms_boxes(), nms_scores(), 0.5)), (std::vector<int64_t>{0, 3, 2, 4}));
  // At 0.3: 3 goes (.333 with 0); 4 overlaps only the suppressed 3 beyond .3, so it stays.
  EXPECT_EQ(to_vector(nms(nms_boxes(), nms_scores(), 0.3)), (std::vector<int64_t>{0, 2, 4}));
}

TEST(DetectionNms, BatchedMaskSkipsMissingCandidates) {
  torch::Tensor scores = nms_scores().clone();
  scores[0] = -std::numeric_limits<float>::infinity();  // box 0 is no candidate
  torch::Tensor keep = batched_nms_mask(nms_boxes().unsqueeze(0), scores.unsqueeze(0), 0.3)[0];
  // Without 0: 3 (.85) keeps, 1 (.8, IoU with 3: 60/140 = .43) goes, 2 keeps, 4 (.43) goes.
  EXPECT_EQ(to_vector(keep), (std::vector<int64_t>{0, 0, 1, 1, 0}));
}

TEST(DetectionNms, PaddedFillsWithSuppressedBoxesInScoreOrder) {
  torch::Tensor picks = nms_padded(torch::stack({nms_boxes(), nms_boxes()}),
                                   torch::stack({nms_scores(), nms_scores()}), 0.3, 4);
  ASSERT_EQ(picks.sizes(), (std::vector<int64_t>{2, 4}));
  // Kept 0, 2, 4; then the suppressed 3 (.85) before 1 (.8).
  EXPECT_EQ(to_vector(picks[0]), (std::vector<int64_t>{0, 2, 4, 3}));
  EXPECT_EQ(to_vector(picks[1]), (std::vector<int64_t>{0, 2, 4, 3}));
}

TEST(DetectionCoding, EncodeGivesHandComputedDeltasAndDecodeInvertsIt) {
  // Anchor (0,0,10,20): centre (5,10), size 10x20; box (2,4,8,12): centre (5,8), size 6x8.
  torch::Tensor anchor = boxes_of({{0, 0, 10, 20}});
  torch::Tensor box = boxes_of({{2, 4, 8, 12}});
  BoxCoding coding{10, 10, 5, 5};
  torch::Tensor d = encode_boxes(box, anchor, coding)[0];
  EXPECT_NEAR(d[0].item<float>(), 0.0, 1e-6);
  EXPECT_NEAR(d[1].item<float>(), 10.0 * (8 - 10) / 20.0, 1e-6);
  EXPECT_NEAR(d[2].item<float>(), 5.0 * std::log(0.6), 1e-5);
  EXPECT_NEAR(d[3].item<float>(), 5.0 * std::log(0.4), 1e-5);
  torch::Tensor back = decode_boxes(encode_boxes(box, anchor, coding), anchor, coding);
  EXPECT_TRUE(torch::allclose(back, box, 1e-5, 1e-4)) << back;
  // Random boxes round-trip under unit weights too.
  torch::manual_seed(3);
  torch::Tensor lo = torch::rand({50, 2}) * 50, size = torch::rand({50, 2}) * 30 + 1;
  torch::Tensor boxes = torch::cat({lo, lo + size}, 1);
  torch::Tensor anchors = boxes.flip(0);
  torch::Tensor round = decode_boxes(encode_boxes(boxes, anchors, {}), anchors, {});
  EXPECT_TRUE(torch::allclose(round, boxes, 1e-4, 1e-3));
}

TEST(DetectionCoding, DecodeClampsTheSizeDeltas) {
  torch::Tensor anchor = boxes_of({{0, 0, 16, 16}});
  torch::Tensor deltas = torch::tensor({0.f, 0.f, 100.f, 100.f}).view({1, 4});
  torch::Tensor box = decode_boxes(deltas, anchor, {})[0];
  EXPECT_NEAR((box[2] - box[0]).item<float>(), 1000.0, 1e-2);  // 16 exp(log(1000/16))
}

TEST(DetectionAnchors, SsdDefaultBoxesFollowTheMlperfLayout) {
  DefaultBoxLevel level;
  level.feature_size = 2;
  level.cells = 2;
  level.scale = 0.2;
  level.next_scale = 0.4;
  level.ratios = {2};
  torch::Tensor boxes = ssd_default_boxes({level});
  ASSERT_EQ(boxes.sizes(), (std::vector<int64_t>{16, 4}));  // 4 shapes x 2 x 2 cells
  // Shape 0 (0.2 x 0.2) at row 0, column 0: centre (0.25, 0.25).
  EXPECT_TRUE(torch::allclose(boxes[0], torch::tensor({0.15f, 0.15f, 0.35f, 0.35f})));
  // Column 1: centre (0.75, 0.25).
  EXPECT_TRUE(torch::allclose(boxes[1], torch::tensor({0.65f, 0.15f, 0.85f, 0.35f})));
  // Shape 1: side sqrt(0.2 x 0.4); shape 2: 0.2 sqrt 2 wide, 0.2 / sqrt 2 high.
  float s = std::sqrt(0.08f), w = 0.2f * std::sqrt(2.f), h = 0.2f / std::sqrt(2.f);
  EXPECT_TRUE(torch::allclose(
      boxes[4], torch::tensor({0.25f - s / 2, 0.25f - s / 2, 0.25f + s / 2, 0.25f + s / 2})));
  EXPECT_TRUE(torch::allclose(
      boxes[8], torch::tensor({0.25f - w / 2, 0.25f - h / 2, 0.25f + w / 2, 0.25f + h / 2})));
  EXPECT_TRUE(torch::allclose(
      boxes[12], torch::tensor({0.25f - h / 2, 0.25f - w / 2, 0.25f + h / 2, 0.25f + w / 2})));
}

TEST(DetectionAnchors, Ssd300HasTheMlperf8732DefaultBoxes) {
  const int64_t sizes[6] = {38, 19, 10, 5, 3, 1};
  const double steps[6] = {8, 16, 32, 64, 100, 300};
  const double scales[7] = {21, 45, 99, 153, 207, 261, 315};
  std::vector<DefaultBoxLevel> levels;
  for (int k = 0; k < 6; ++k) {
    DefaultBoxLevel level;
    level.feature_size = sizes[k];
    level.cells = 300 / steps[k];
    level.scale = scales[k] / 300;
    level.next_scale = scales[k + 1] / 300;
    level.ratios = (k == 0 || k >= 4) ? std::vector<double>{2} : std::vector<double>{2, 3};
    levels.push_back(level);
  }
  torch::Tensor boxes = ssd_default_boxes(levels);
  EXPECT_EQ(boxes.size(0), 8732);
  EXPECT_GE(boxes.min().item<float>(), -0.5f);
  EXPECT_LE(boxes.max().item<float>(), 1.5f);
}

TEST(DetectionAnchors, GridAnchorsAreCentredOnTheCellsWithTheRightShapes) {
  torch::Tensor anchors = grid_anchors(1, 2, 16, {32}, {0.5, 1, 2});
  ASSERT_EQ(anchors.sizes(), (std::vector<int64_t>{6, 4}));
  // Cell x = 1 (centre 16, 0), ratio 1: 32 x 32.
  EXPECT_TRUE(torch::allclose(anchors[4], torch::tensor({0.f, -16.f, 32.f, 16.f})));
  // Ratio 2 (height / width): width 32 / sqrt 2, height 32 sqrt 2, area 32^2.
  torch::Tensor tall = anchors[5];
  EXPECT_NEAR((tall[2] - tall[0]).item<float>(), 32 / std::sqrt(2.0), 1e-4);
  EXPECT_NEAR((tall[3] - tall[1]).item<float>(), 32 * std::sqrt(2.0), 1e-4);
}

TEST(DetectionMatching, ThresholdsBestAnchorPerGroundTruthAndPadding) {
  // A0 = g0 (IoU 1); A1 inside g0 (IoU .25); A2 vs g1 IoU 81/119 = .68; A3 only meets the
  // padding row, which must not match.
  torch::Tensor anchors =
      boxes_of({{0, 0, 10, 10}, {0, 0, 5, 5}, {20, 20, 30, 30}, {100, 100, 110, 110}});
  torch::Tensor gt =
      boxes_of({{0, 0, 10, 10}, {21, 21, 31, 31}, {100, 100, 110, 110}}).unsqueeze(0);
  torch::Tensor valid = torch::tensor({true, true, false}).unsqueeze(0);
  Matches m = match_anchors(anchors, gt, valid, 0.7, 0.3, false);
  EXPECT_EQ(to_vector(m.labels[0]), (std::vector<int64_t>{1, 0, -1, 0}));
  EXPECT_EQ(to_vector(m.gt_index[0]).at(0), 0);
  EXPECT_EQ(to_vector(m.gt_index[0]).at(2), 1);
  Matches best = match_anchors(anchors, gt, valid, 0.7, 0.3, true);
  EXPECT_EQ(to_vector(best.labels[0]), (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(to_vector(best.gt_index[0]).at(2), 1);
  // Per-image anchors [N, A, 4] give the same answer.
  Matches per_image = match_anchors(anchors.unsqueeze(0), gt, valid, 0.7, 0.3, true);
  EXPECT_TRUE(torch::equal(per_image.labels, best.labels));
  // A ground truth whose best anchor overlaps it below every threshold still gets it: g1
  // (12,0,22,10) meets A1 (20,0,30,10) with IoU 20/180 = .11 and A0 not at all.
  torch::Tensor pair = boxes_of({{0, 0, 10, 10}, {20, 0, 30, 10}});
  torch::Tensor gt2 = boxes_of({{0, 0, 10, 10}, {12, 0, 22, 10}}).unsqueeze(0);
  torch::Tensor both = torch::ones({1, 2}, torch::kBool);
  EXPECT_EQ(to_vector(match_anchors(pair, gt2, both, 0.5, 0.5, false).labels[0]),
            (std::vector<int64_t>{1, 0}));
  Matches forced = match_anchors(pair, gt2, both, 0.5, 0.5, true);
  EXPECT_EQ(to_vector(forced.labels[0]), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(to_vector(forced.gt_index[0]), (std::vector<int64_t>{0, 1}));
}

/// torchvision's bilinear_interpolate for one channel (y, x in pixel-centre units).
double bilinear(const torch::Tensor& map, double y, double x) {
  const int64_t h = map.size(0), w = map.size(1);
  if (y < -1.0 || y > h || x < -1.0 || x > w) return 0;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x), y1, x1;
  if (y0 >= h - 1) {
    y0 = y1 = h - 1;
    y = static_cast<double>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= w - 1) {
    x0 = x1 = w - 1;
    x = static_cast<double>(x0);
  } else {
    x1 = x0 + 1;
  }
  double ly = y - static_cast<double>(y0), lx = x - static_cast<double>(x0);
  auto at = [&](int64_t yy, int64_t xx) { return map[yy][xx].item<double>(); };
  return (1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x1) +
         ly * (1 - lx) * at(y1, x0) + ly * lx * at(y1, x1);
}

/// RoIAlign (aligned) of one box computed directly, sample by sample.
torch::Tensor direct_roi_align(const torch::Tensor& map, std::vector<double> box, int64_t out,
                               double scale, int64_t ratio) {
  double x1 = box[0] * scale - 0.5, y1 = box[1] * scale - 0.5;
  double bw = (box[2] - box[0]) * scale / static_cast<double>(out);
  double bh = (box[3] - box[1]) * scale / static_cast<double>(out);
  torch::Tensor result = torch::zeros({out, out}, torch::kDouble);
  for (int64_t py = 0; py < out; ++py) {
    for (int64_t px = 0; px < out; ++px) {
      double sum = 0;
      for (int64_t iy = 0; iy < ratio; ++iy) {
        for (int64_t ix = 0; ix < ratio; ++ix) {
          double y = y1 + (static_cast<double>(py) + (static_cast<double>(iy) + 0.5) / ratio) * bh;
          double x = x1 + (static_cast<double>(px) + (static_cast<double>(ix) + 0.5) / ratio) * bw;
          sum += bilinear(map, y, x);
        }
      }
      result[py][px] = sum / static_cast<double>(ratio * ratio);
    }
  }
  return result;
}

TEST(DetectionRoiAlign, LinearMapGivesTheBinCentres) {
  // f(y, x) = 6 y + x on a 5 x 6 map; bilinear sampling of a linear map is exact, so each bin's
  // average is f at the bin centre. Box (2, 2, 8, 6) at scale 0.5 -> (0.5, 0.5)..(3.5, 2.5) in
  // pixel-centre units; 2 x 2 bins of 1.5 x 1.0.
  torch::Tensor features = torch::arange(30, torch::kFloat).view({1, 1, 5, 6});
  torch::Tensor boxes = torch::tensor({2.f, 2.f, 8.f, 6.f}).view({1, 1, 4});
  torch::Tensor out = roi_align(features, boxes, 2, 0.5, 2);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_NEAR(out[0][0][0][0].item<float>(), 6 * 1.0 + 1.25, 1e-4);
  EXPECT_NEAR(out[0][0][0][1].item<float>(), 6 * 1.0 + 2.75, 1e-4);
  EXPECT_NEAR(out[0][0][1][0].item<float>(), 6 * 2.0 + 1.25, 1e-4);
  EXPECT_NEAR(out[0][0][1][1].item<float>(), 6 * 2.0 + 2.75, 1e-4);
}

TEST(DetectionRoiAlign, MatchesADirectBilinearComputation) {
  torch::manual_seed(7);
  torch::Tensor features = torch::randn({2, 3, 7, 9});
  std::vector<std::vector<double>> rois = {
      {1.0, 2.0, 13.0, 9.5}, {0.0, 0.0, 17.9, 13.9}, {5.5, 3.25, 6.5, 4.0}, {3.0, 1.0, 11.0, 12.0}};
  torch::Tensor boxes =
      torch::tensor(std::vector<float>{1.0f, 2.0f, 13.0f, 9.5f, 0.0f, 0.0f, 17.9f, 13.9f, 5.5f,
                                       3.25f, 6.5f, 4.0f, 3.0f, 1.0f, 11.0f, 12.0f})
          .view({2, 2, 4});
  const int64_t out = 3, ratio = 2;
  const double scale = 0.5;
  torch::Tensor got = roi_align(features, boxes, out, scale, ratio);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{4, 3, out, out}));
  for (int64_t r = 0; r < 4; ++r) {
    int64_t image = r / 2;  // image-major order
    for (int64_t c = 0; c < 3; ++c) {
      torch::Tensor expected = direct_roi_align(features[image][c], rois[r], out, scale, ratio);
      EXPECT_TRUE(torch::allclose(got[r][c].to(torch::kDouble), expected, 1e-5, 1e-5))
          << "roi " << r << " channel " << c << "\n"
          << got[r][c] << "\n"
          << expected;
    }
  }
}

TEST(DetectionRoiAlign, IsDifferentiable) {
  torch::Tensor features = torch::randn({1, 2, 6, 6}, torch::requires_grad());
  torch::Tensor boxes = torch::tensor({2.f, 2.f, 8.f, 8.f}).view({1, 1, 4});
  roi_align(features, boxes, 2, 0.5, 2).sum().backward();  // samples inside the map
  ASSERT_TRUE(features.grad().defined());
  // Every output averages bilinear weights that sum to 1: 2 channels x 4 bins.
  EXPECT_NEAR(features.grad().sum().item<float>(), 8.0, 1e-4);
}

TEST(DetectionPostprocess, PerClassNmsThresholdAndTopK) {
  torch::Tensor boxes = boxes_of({{0, 0, 10, 10}, {1, 0, 11, 10}, {50, 50, 60, 60}}).unsqueeze(0);
  // Class 0: .9, .8 (IoU .818 with box 0: suppressed), .01 (below .05).
  // Class 1: .1 (suppressed by box 1), .7, .6.
  torch::Tensor scores = torch::tensor({0.9f, 0.1f, 0.8f, 0.7f, 0.01f, 0.6f}).view({1, 3, 2});
  torch::Tensor out = detect_per_class(boxes, scores, 0.05, 0.5, 200, 4)[0];
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 6}));
  EXPECT_TRUE(torch::allclose(out[0], torch::tensor({0.f, 0.f, 10.f, 10.f, 0.9f, 0.f})));
  EXPECT_TRUE(torch::allclose(out[1], torch::tensor({1.f, 0.f, 11.f, 10.f, 0.7f, 1.f})));
  EXPECT_TRUE(torch::allclose(out[2], torch::tensor({50.f, 50.f, 60.f, 60.f, 0.6f, 1.f})));
  EXPECT_TRUE(torch::allclose(out[3], torch::zeros({6})));
  // Per-class boxes [N, K, C, 4]: class 1 reads its own boxes.
  torch::Tensor per_class = torch::stack({boxes, boxes + 100}, 2);
  torch::Tensor out2 = detect_per_class(per_class, scores, 0.05, 0.5, 200, 4)[0];
  EXPECT_NEAR(out2[1][0].item<float>(), 101.f, 1e-5);
}

TEST(DetectionData, RandomGroundTruthIsValid) {
  torch::manual_seed(11);
  GroundTruth gt = random_ground_truth(64, 4, 5, 100, 200, 0.1, 0.5, torch::kCPU);
  torch::Tensor count = gt.valid.sum(1);
  EXPECT_GE(count.min().item<int64_t>(), 1);
  EXPECT_LE(count.max().item<int64_t>(), 4);
  torch::Tensor b = gt.boxes.index({gt.valid});
  EXPECT_GE(b.min().item<float>(), 0.f);
  EXPECT_TRUE((b.select(1, 2) <= 200).all().item<bool>());
  EXPECT_TRUE((b.select(1, 3) <= 100).all().item<bool>());
  EXPECT_TRUE((b.select(1, 2) > b.select(1, 0)).all().item<bool>());
  torch::Tensor labels = gt.labels.index({gt.valid});
  EXPECT_GE(labels.min().item<int64_t>(), 1);
  EXPECT_LE(labels.max().item<int64_t>(), 5);
  EXPECT_EQ(gt.labels.index({~gt.valid}).abs().sum().item<int64_t>(), 0);
}

}  // namespace
}  // namespace dlbench::model
