// Box utilities of the detection models. See detection.h.
#include "workloads/model/vision/detection.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace dlbench::model {

namespace {
using torch::indexing::Ellipsis;
using torch::indexing::Slice;

torch::Tensor coord(const torch::Tensor& boxes, int64_t i) { return boxes.select(-1, i); }

/// Greedy NMS of candidates sorted by descending score (sorted_boxes [G, K, 4], sorted_scores
/// [G, K]; -inf marks no candidate, so the real ones are a prefix). The IoU matrix is computed on
/// the boxes' device, only for the groups with two or more candidates and only over the longest
/// prefix; the greedy walk runs on a CPU copy of the thresholded matrix. Returns the kept mask
/// [G, K] on the CPU.
torch::Tensor greedy_keep_sorted(const torch::Tensor& sorted_boxes,
                                 const torch::Tensor& sorted_scores, double iou_threshold) {
  torch::Tensor valid = torch::isfinite(sorted_scores).to(torch::kCPU).contiguous();
  torch::Tensor counts = valid.sum(1);
  torch::Tensor keep = valid.clone();  // a group with at most one candidate keeps it
  torch::Tensor active = (counts > 1).nonzero().flatten();
  if (active.numel() == 0) return keep;
  const int64_t k = valid.size(1), prefix = counts.max().item<int64_t>();
  torch::Tensor boxes =
      sorted_boxes.index_select(0, active.to(sorted_boxes.device())).narrow(1, 0, prefix);
  torch::Tensor over = (box_iou(boxes, boxes) > iou_threshold).to(torch::kCPU).contiguous();
  const bool* o = over.data_ptr<bool>();
  const int64_t* groups = active.data_ptr<int64_t>();
  const int64_t* count = counts.data_ptr<int64_t>();
  bool* out = keep.data_ptr<bool>();
  std::vector<char> removed(static_cast<size_t>(prefix));
  for (int64_t a = 0; a < active.numel(); ++a) {
    const int64_t g = groups[a], n = count[g];
    std::fill(removed.begin(), removed.end(), 0);
    const bool* og = o + a * prefix * prefix;
    bool* kept = out + g * k;
    for (int64_t i = 0; i < n; ++i) {
      if (removed[i]) {
        kept[i] = false;
        continue;
      }
      const bool* row = og + i * prefix;
      for (int64_t j = i + 1; j < n; ++j) {
        if (row[j]) removed[j] = 1;
      }
    }
  }
  return keep;
}

/// Sorts each group's candidates by descending score: (order [G, K], sorted boxes, scores).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> sort_candidates(
    const torch::Tensor& boxes, const torch::Tensor& scores) {
  auto [sorted_scores, order] = scores.to(torch::kFloat).sort(1, /*descending=*/true);
  torch::Tensor sorted_boxes =
      boxes.to(torch::kFloat).gather(1, order.unsqueeze(-1).expand({-1, -1, 4}));
  return {order, sorted_boxes, sorted_scores};
}
}  // namespace

torch::Tensor box_area(const torch::Tensor& boxes) {
  return (coord(boxes, 2) - coord(boxes, 0)).clamp_min(0) *
         (coord(boxes, 3) - coord(boxes, 1)).clamp_min(0);
}

torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor aa = a.unsqueeze(-2);  // [..., A, 1, 4]
  torch::Tensor bb = b.unsqueeze(-3);  // [..., 1, B, 4]
  torch::Tensor lt =
      torch::max(aa.index({Ellipsis, Slice(0, 2)}), bb.index({Ellipsis, Slice(0, 2)}));
  torch::Tensor rb =
      torch::min(aa.index({Ellipsis, Slice(2, 4)}), bb.index({Ellipsis, Slice(2, 4)}));
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor inter = coord(wh, 0) * coord(wh, 1);
  torch::Tensor uni = box_area(a).unsqueeze(-1) + box_area(b).unsqueeze(-2) - inter;
  return torch::where(uni > 0, inter / uni.clamp_min(1e-12), torch::zeros_like(inter));
}

torch::Tensor batched_nms_mask(const torch::Tensor& boxes, const torch::Tensor& scores,
                               double iou_threshold) {
  if (boxes.dim() != 3 || scores.dim() != 2) throw Error("batched_nms_mask: boxes [G, K, 4]");
  auto [order, sorted_boxes, sorted_scores] = sort_candidates(boxes, scores);
  torch::Tensor keep_sorted =
      greedy_keep_sorted(sorted_boxes, sorted_scores, iou_threshold).to(boxes.device());
  return torch::zeros_like(keep_sorted).scatter(1, order, keep_sorted);
}

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  torch::Tensor keep = batched_nms_mask(boxes.unsqueeze(0), scores.unsqueeze(0), iou_threshold)[0];
  torch::Tensor order = std::get<1>(scores.to(torch::kFloat).sort(0, /*descending=*/true));
  return order.index({keep.index({order})});
}

torch::Tensor nms_padded(const torch::Tensor& boxes, const torch::Tensor& scores,
                         double iou_threshold, int64_t count) {
  const int64_t n = boxes.size(0), k = boxes.size(1);
  if (count > k) throw Error("nms_padded: count exceeds the candidates");
  auto [order, sorted_boxes, sorted_scores] = sort_candidates(boxes, scores);
  torch::Tensor keep = greedy_keep_sorted(sorted_boxes, sorted_scores, iou_threshold);
  torch::Tensor picks = torch::empty({n, count}, torch::kLong);
  const bool* kp = keep.data_ptr<bool>();
  int64_t* out = picks.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t filled = 0;
    for (int pass = 0; pass < 2 && filled < count; ++pass) {
      for (int64_t j = 0; j < k && filled < count; ++j) {
        if (kp[i * k + j] == (pass == 0)) out[i * count + filled++] = j;
      }
    }
  }
  return order.gather(1, picks.to(boxes.device()));
}

torch::Tensor encode_boxes(const torch::Tensor& boxes, const torch::Tensor& anchors,
                           const BoxCoding& c) {
  torch::Tensor aw = coord(anchors, 2) - coord(anchors, 0);
  torch::Tensor ah = coord(anchors, 3) - coord(anchors, 1);
  torch::Tensor ax = coord(anchors, 0) + 0.5 * aw, ay = coord(anchors, 1) + 0.5 * ah;
  torch::Tensor bw = coord(boxes, 2) - coord(boxes, 0);
  torch::Tensor bh = coord(boxes, 3) - coord(boxes, 1);
  torch::Tensor bx = coord(boxes, 0) + 0.5 * bw, by = coord(boxes, 1) + 0.5 * bh;
  return torch::stack({c.wx * (bx - ax) / aw, c.wy * (by - ay) / ah, c.ww * torch::log(bw / aw),
                       c.wh * torch::log(bh / ah)},
                      -1);
}

torch::Tensor decode_boxes(const torch::Tensor& deltas, const torch::Tensor& anchors,
                           const BoxCoding& c) {
  torch::Tensor aw = coord(anchors, 2) - coord(anchors, 0);
  torch::Tensor ah = coord(anchors, 3) - coord(anchors, 1);
  torch::Tensor ax = coord(anchors, 0) + 0.5 * aw, ay = coord(anchors, 1) + 0.5 * ah;
  torch::Tensor x = coord(deltas, 0) / c.wx * aw + ax;
  torch::Tensor y = coord(deltas, 1) / c.wy * ah + ay;
  torch::Tensor w = torch::exp((coord(deltas, 2) / c.ww).clamp_max(c.size_clip)) * aw;
  torch::Tensor h = torch::exp((coord(deltas, 3) / c.wh).clamp_max(c.size_clip)) * ah;
  return torch::stack({x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h}, -1);
}

torch::Tensor clip_boxes(const torch::Tensor& boxes, double height, double width) {
  return torch::stack({coord(boxes, 0).clamp(0, width), coord(boxes, 1).clamp(0, height),
                       coord(boxes, 2).clamp(0, width), coord(boxes, 3).clamp(0, height)},
                      -1);
}

torch::Tensor ssd_default_boxes(const std::vector<DefaultBoxLevel>& levels) {
  std::vector<float> values;
  for (const DefaultBoxLevel& level : levels) {
    std::vector<std::pair<double, double>> shapes = {
        {level.scale, level.scale},
        {std::sqrt(level.scale * level.next_scale), std::sqrt(level.scale * level.next_scale)}};
    for (double ratio : level.ratios) {
      double w = level.scale * std::sqrt(ratio), h = level.scale / std::sqrt(ratio);
      shapes.push_back({w, h});
      shapes.push_back({h, w});
    }
    for (auto [w, h] : shapes) {
      for (int64_t i = 0; i < level.feature_size; ++i) {
        for (int64_t j = 0; j < level.feature_size; ++j) {
          auto clamp01 = [](double v) { return std::min(1.0, std::max(0.0, v)); };
          double cx = clamp01((static_cast<double>(j) + 0.5) / level.cells);
          double cy = clamp01((static_cast<double>(i) + 0.5) / level.cells);
          double cw = clamp01(w), ch = clamp01(h);
          for (double v : {cx - 0.5 * cw, cy - 0.5 * ch, cx + 0.5 * cw, cy + 0.5 * ch}) {
            values.push_back(static_cast<float>(v));
          }
        }
      }
    }
  }
  return torch::tensor(values).view({-1, 4});
}

torch::Tensor grid_anchors(int64_t height, int64_t width, double stride,
                           const std::vector<double>& sizes, const std::vector<double>& ratios) {
  std::vector<float> values;
  values.reserve(static_cast<size_t>(height * width) * sizes.size() * ratios.size() * 4);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      double cx = static_cast<double>(x) * stride, cy = static_cast<double>(y) * stride;
      for (double size : sizes) {
        for (double ratio : ratios) {
          double w = size / std::sqrt(ratio), h = size * std::sqrt(ratio);
          for (double v : {cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}) {
            values.push_back(static_cast<float>(v));
          }
        }
      }
    }
  }
  return torch::tensor(values).view({-1, 4});
}

Matches match_anchors(const torch::Tensor& anchors, const torch::Tensor& gt,
                      const torch::Tensor& gt_valid, double fg_threshold, double bg_threshold,
                      bool best_anchor_per_gt) {
  torch::Tensor iou = box_iou(anchors.to(torch::kFloat), gt.to(torch::kFloat));  // [N, A, G]
  iou = torch::where(gt_valid.unsqueeze(1), iou, torch::full_like(iou, -1));
  auto [max_iou, gt_index] = iou.max(2);
  torch::Tensor labels =
      torch::where(max_iou >= fg_threshold, torch::ones_like(gt_index),
                   torch::where(max_iou < bg_threshold, torch::zeros_like(gt_index),
                                torch::full_like(gt_index, -1)));
  if (best_anchor_per_gt) {
    const int64_t anchors_count = iou.size(1);
    torch::Tensor best = iou.argmax(1);  // [N, G]
    torch::Tensor positions = torch::arange(anchors_count, gt_index.options()).unsqueeze(0);
    for (int64_t g = 0; g < gt.size(1); ++g) {
      torch::Tensor hit =
          (positions == best.select(1, g).unsqueeze(1)) & gt_valid.select(1, g).unsqueeze(1);
      gt_index = torch::where(hit, torch::full_like(gt_index, g), gt_index);
      labels = torch::where(hit, torch::ones_like(labels), labels);
    }
  }
  return {gt_index, labels};
}

torch::Tensor gather_rows(const torch::Tensor& table, const torch::Tensor& index) {
  return table.gather(1, index.unsqueeze(-1).expand({-1, -1, table.size(2)}));
}

torch::Tensor roi_align(const torch::Tensor& features, const torch::Tensor& boxes,
                        int64_t output_size, double spatial_scale, int64_t sampling_ratio) {
  const int64_t n = features.size(0), channels = features.size(1);
  const int64_t height = features.size(2), width = features.size(3);
  const int64_t rois = boxes.size(1), samples = output_size * sampling_ratio;
  // Box corners in pixel-centre units (aligned=True: shift by half a pixel).
  torch::Tensor b = boxes.to(torch::kFloat) * spatial_scale - 0.5;
  torch::Tensor steps =
      (torch::arange(samples, b.options()) + 0.5) / static_cast<double>(sampling_ratio);
  auto positions = [&](int64_t lo, int64_t hi) {  // [N, R, S]: lo + steps x bin size
    torch::Tensor start = coord(b, lo).unsqueeze(-1);
    torch::Tensor bin =
        ((coord(b, hi) - coord(b, lo)) / static_cast<double>(output_size)).unsqueeze(-1);
    return start + steps * bin;
  };
  // grid_sample (align_corners=False) normalises a pixel-centre coordinate x to (2x + 1)/W - 1.
  torch::Tensor gx = (2 * positions(0, 2) + 1) / static_cast<double>(width) - 1;
  torch::Tensor gy = (2 * positions(1, 3) + 1) / static_cast<double>(height) - 1;
  torch::Tensor grid = torch::stack({gx.unsqueeze(2).expand({n, rois, samples, samples}),
                                     gy.unsqueeze(3).expand({n, rois, samples, samples})},
                                    -1)
                           .reshape({n, rois * samples, samples, 2});
  torch::Tensor sampled = torch::grid_sampler(features.to(torch::kFloat).contiguous(), grid,
                                              /*interpolation=bilinear*/ 0,
                                              /*padding=border*/ 1, /*align_corners=*/false);
  // [N, C, R S, S] -> bins of sampling_ratio^2 samples -> [N R, C, out, out]
  return sampled.view({n, channels, rois, output_size, sampling_ratio, output_size, sampling_ratio})
      .mean({4, 6})
      .permute({0, 2, 1, 3, 4})
      .reshape({n * rois, channels, output_size, output_size});
}

torch::Tensor detect_per_class(const torch::Tensor& boxes, const torch::Tensor& scores,
                               double score_threshold, double nms_threshold,
                               int64_t candidates_per_class, int64_t max_detections) {
  const int64_t n = scores.size(0), k = scores.size(1), classes = scores.size(2);
  const int64_t top = std::min(candidates_per_class, k);
  auto [top_scores, index] = scores.to(torch::kFloat).permute({0, 2, 1}).topk(top, 2);
  torch::Tensor per_class = boxes.dim() == 3
                                ? boxes.to(torch::kFloat).unsqueeze(1).expand({n, classes, k, 4})
                                : boxes.to(torch::kFloat).permute({0, 2, 1, 3});
  torch::Tensor cand = per_class.gather(2, index.unsqueeze(-1).expand({n, classes, top, 4}));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  top_scores =
      torch::where(top_scores > score_threshold, top_scores, torch::full_like(top_scores, neg_inf));
  torch::Tensor keep = batched_nms_mask(cand.reshape({n * classes, top, 4}),
                                        top_scores.reshape({n * classes, top}), nms_threshold)
                           .view({n, classes, top});
  torch::Tensor final_scores =
      torch::where(keep, top_scores, torch::full_like(top_scores, neg_inf)).reshape({n, -1});
  const int64_t m = std::min(max_detections, classes * top);
  auto [best, pick] = final_scores.topk(m, 1);
  torch::Tensor picked =
      cand.reshape({n, classes * top, 4}).gather(1, pick.unsqueeze(-1).expand({n, m, 4}));
  torch::Tensor label = pick.div(top, "floor").to(torch::kFloat).unsqueeze(-1);
  torch::Tensor out = torch::cat({picked, best.unsqueeze(-1), label}, -1);
  out = torch::where(torch::isfinite(best).unsqueeze(-1), out, torch::zeros_like(out));
  if (m < max_detections) {
    out = torch::cat({out, torch::zeros({n, max_detections - m, 6}, out.options())}, 1);
  }
  return out;
}

GroundTruth random_ground_truth(int64_t n, int64_t max_boxes, int64_t classes, double height,
                                double width, double min_side, double max_side,
                                const torch::Device& device) {
  torch::Tensor count = torch::randint(1, max_boxes + 1, {n, 1}, torch::kLong);
  torch::Tensor valid = torch::arange(max_boxes, torch::kLong).unsqueeze(0) < count;
  auto side = [&](double extent) {
    return (min_side + (max_side - min_side) * torch::rand({n, max_boxes})) * extent;
  };
  torch::Tensor w = side(width), h = side(height);
  torch::Tensor cx = 0.5 * w + torch::rand({n, max_boxes}) * (width - w);
  torch::Tensor cy = 0.5 * h + torch::rand({n, max_boxes}) * (height - h);
  torch::Tensor boxes = torch::stack({cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}, -1);
  boxes = torch::where(valid.unsqueeze(-1), boxes, torch::zeros_like(boxes));
  torch::Tensor labels = torch::randint(1, classes + 1, {n, max_boxes}, torch::kLong);
  labels = torch::where(valid, labels, torch::zeros_like(labels));
  return {boxes.to(device), labels.to(device), valid.to(device)};
}

}  // namespace dlbench::model
