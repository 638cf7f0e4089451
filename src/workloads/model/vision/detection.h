// Box utilities shared by the detection models (model/ssd, model/faster_rcnn, model/ewa): IoU,
// greedy non-maximum suppression, box encoding, anchors and default boxes, anchor-to-ground-truth
// matching, RoIAlign and per-class detection post-processing. Boxes are (x1, y1, x2, y2) in
// continuous coordinates. None of this is counted in FLOPs (docs/workloads/ssd.md,
// faster_rcnn.md): only RoIAlign's consumers (the RoI head's convolutions) are.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace dlbench::model {

/// Areas of boxes [..., 4] (zero for degenerate boxes): [...].
torch::Tensor box_area(const torch::Tensor& boxes);

/// Pairwise intersection over union of a [..., A, 4] and b [..., B, 4] (leading dims broadcast):
/// [..., A, B]. Zero where the union is empty.
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);

/// Greedy NMS in groups. boxes [G, K, 4] and scores [G, K]; a candidate whose score is not finite
/// (-inf marks "no candidate") is never kept. Within each group, walking the candidates in
/// descending score, a box is kept unless an already kept box overlaps it with IoU above
/// `iou_threshold`. The IoU matrix is computed on the boxes' device; the greedy walk runs on a
/// CPU copy of the thresholded [G, K, K] matrix. Returns a bool [G, K] mask on the boxes' device.
torch::Tensor batched_nms_mask(const torch::Tensor& boxes, const torch::Tensor& scores,
                               double iou_threshold);

/// Single-group NMS: indices of the kept boxes [K, 4] in descending score order (a long tensor).
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);

/// Fixed-size NMS for static shapes: for each of N images (boxes [N, K, 4], scores [N, K]),
/// `count` <= K indices: the boxes NMS keeps in descending score, then, to fill up, the
/// suppressed ones in descending score. Returns a long [N, count] tensor on the boxes' device.
torch::Tensor nms_padded(const torch::Tensor& boxes, const torch::Tensor& scores,
                         double iou_threshold, int64_t count);

/// Weights of the box encoding (Faster R-CNN's (10, 10, 5, 5) equals SSD's variances
/// (0.1, 0.1, 0.2, 0.2) inverted) and the clamp of the log-size deltas when decoding.
struct BoxCoding {
  double wx = 1, wy = 1, ww = 1, wh = 1;
  double size_clip = std::log(1000.0 / 16.0);  ///< Detectron's BBOX_XFORM_CLIP
};

/// Regression targets of `boxes` relative to `anchors` (both [..., 4], broadcast):
/// (wx (x - xa) / wa, wy (y - ya) / ha, ww log(w / wa), wh log(h / ha)) of centres and sizes.
torch::Tensor encode_boxes(const torch::Tensor& boxes, const torch::Tensor& anchors,
                           const BoxCoding& coding);
/// The inverse of encode_boxes: boxes [..., 4] from deltas and anchors (log-size deltas clamped
/// at coding.size_clip).
torch::Tensor decode_boxes(const torch::Tensor& deltas, const torch::Tensor& anchors,
                           const BoxCoding& coding);

/// Clips boxes [N, K, 4] to an image of height x width.
torch::Tensor clip_boxes(const torch::Tensor& boxes, double height, double width);

/// One feature map's default boxes in SSD (Liu et al. 2016; MLPerf's DefaultBoxes).
struct DefaultBoxLevel {
  int64_t feature_size = 1;    ///< the map is feature_size x feature_size
  double cells = 1;            ///< box centres at (j + 0.5) / cells (MLPerf: image / step)
  double scale = 0.1;          ///< s_k, relative to the image
  double next_scale = 0.2;     ///< s_{k+1}: the extra square box has side sqrt(s_k s_{k+1})
  std::vector<double> ratios;  ///< aspect ratios a beyond 1: boxes (s sqrt a, s / sqrt a), both
  /// Boxes per location: 2 + 2 x ratios.
  int64_t boxes_per_location() const { return 2 + 2 * static_cast<int64_t>(ratios.size()); }
};

/// SSD default boxes of all levels, [A, 4] (x1, y1, x2, y2) relative to the image. Order per
/// level: box shape outer, then row, then column (the layout of MLPerf's loc/conf heads viewed
/// as [N, 4, -1]); centre-size boxes are clamped to [0, 1] before conversion, as in MLPerf.
torch::Tensor ssd_default_boxes(const std::vector<DefaultBoxLevel>& levels);

/// Faster R-CNN anchors on a height x width feature map of the given stride: sizes x ratios
/// (ratio = height / width, area size^2) centred at (x stride, y stride) of every cell. [H W A,
/// 4] in pixels, ordered row, column, anchor (the layout of a [N, A, H, W] head permuted to
/// [N, H, W, A]).
torch::Tensor grid_anchors(int64_t height, int64_t width, double stride,
                           const std::vector<double>& sizes, const std::vector<double>& ratios);

/// The outcome of matching anchors to ground-truth boxes.
struct Matches {
  torch::Tensor gt_index;  ///< [N, A] long: the best-overlapping valid ground truth (0 if none)
  torch::Tensor labels;    ///< [N, A] long: 1 foreground, 0 background, -1 ignored
};

/// Matches anchors ([A, 4], or per image [N, A, 4]) to ground truth gt [N, G, 4] of which
/// gt_valid [N, G] (bool) are real. IoU >= fg_threshold: foreground; < bg_threshold:
/// background; in between: ignored. With best_anchor_per_gt, every valid ground truth's best
/// anchor is foreground and matched to it (SSD, the RPN).
Matches match_anchors(const torch::Tensor& anchors, const torch::Tensor& gt,
                      const torch::Tensor& gt_valid, double fg_threshold, double bg_threshold,
                      bool best_anchor_per_gt);

/// Gathers per-anchor rows of a per-image table: table [N, G, D], index [N, A] -> [N, A, D].
torch::Tensor gather_rows(const torch::Tensor& table, const torch::Tensor& index);

/// RoIAlign (He et al., Mask R-CNN 2017) with aligned=True semantics (torchvision's
/// roi_align(aligned=True), Detectron2's ROIAlignV2): features [N, C, H, W], boxes [N, R, 4] in
/// input-image coordinates, `spatial_scale` = feature / image size. Each RoI is split into
/// output_size x output_size bins; each bin averages sampling_ratio x sampling_ratio bilinear
/// samples at regular positions (a box coordinate x maps to x spatial_scale - 0.5 in pixel-centre
/// units). Samples outside the map take the border value (torchvision: zero beyond one pixel
/// outside). Built on grid_sample, so it is differentiable. Returns [N R, C, out, out] in
/// float32.
torch::Tensor roi_align(const torch::Tensor& features, const torch::Tensor& boxes,
                        int64_t output_size, double spatial_scale, int64_t sampling_ratio);

/// Per-class detection post-processing. boxes: [N, K, 4] (shared by all classes) or
/// [N, K, C, 4] (per class); scores [N, K, C] of the C foreground classes. Per image and class:
/// candidates with score > score_threshold, at most candidates_per_class of the best, greedy NMS
/// at nms_threshold; then the max_detections best over all classes. Returns [N, max_detections,
/// 6] float: x1, y1, x2, y2, score, class (0-based foreground class), zero rows where fewer.
torch::Tensor detect_per_class(const torch::Tensor& boxes, const torch::Tensor& scores,
                               double score_threshold, double nms_threshold,
                               int64_t candidates_per_class, int64_t max_detections);

/// Random ground truth for generated detection batches: for each of N images 1..max_boxes valid
/// boxes (the rest zero and marked invalid) inside a width x height image with sides between
/// min_side and max_side (fractions of the image), and labels in [1, classes]. All on `device`.
struct GroundTruth {
  torch::Tensor boxes;   ///< [N, G, 4] float
  torch::Tensor labels;  ///< [N, G] long, 0 for the padding rows
  torch::Tensor valid;   ///< [N, G] bool
};
GroundTruth random_ground_truth(int64_t n, int64_t max_boxes, int64_t classes, double height,
                                double width, double min_side, double max_side,
                                const torch::Device& device);

}  // namespace dlbench::model
