// Held-out quality metrics, accumulated batch by batch: top-1 accuracy, ROC AUC, mean absolute
// error, perplexity, mean intersection-over-union, detection mean average precision and sequence
// accuracy. Definitions: docs/quality.md.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbench::nn {

/// Top-1 accuracy in %: the share of samples whose highest-scoring class is the label.
class TopOneAccuracy {
 public:
  /// scores [N, C] (any float type), labels [N] (integer).
  void add(const torch::Tensor& scores, const torch::Tensor& labels);
  /// 100 x correct / seen; NaN before any sample.
  double value() const;
  int64_t seen() const { return seen_; }

 private:
  int64_t correct_ = 0;
  int64_t seen_ = 0;
};

/// Area under the ROC curve of binary scores: the probability that a random positive scores
/// above a random negative, ties counting one half (the Mann-Whitney U statistic, exact).
class RocAuc {
 public:
  /// scores [N] (higher = more likely positive), labels [N] (0 or 1).
  void add(const torch::Tensor& scores, const torch::Tensor& labels);
  /// AUC in [0, 1]; NaN when one class is absent.
  double value() const;
  int64_t seen() const { return static_cast<int64_t>(scores_.size()); }

 private:
  std::vector<double> scores_;
  std::vector<uint8_t> labels_;
};

/// Mean absolute error over every element of the predictions.
class MeanAbsoluteError {
 public:
  void add(const torch::Tensor& predictions, const torch::Tensor& targets);
  double value() const;

 private:
  double sum_ = 0;
  int64_t count_ = 0;
};

/// Perplexity: exp of the mean negative log-likelihood per token (natural log).
class Perplexity {
 public:
  /// Adds `token_count` tokens whose summed negative log-likelihood is `summed_nll`.
  void add(double summed_nll, int64_t token_count);
  double value() const;

 private:
  double nll_ = 0;
  int64_t tokens_ = 0;
};

/// Mean intersection-over-union in % over the classes that occur in the targets or the
/// predictions (a class absent from both is left out of the mean).
class MeanIou {
 public:
  explicit MeanIou(int64_t classes);
  /// predicted and target class maps of the same shape (integer).
  void add(const torch::Tensor& predicted, const torch::Tensor& target);
  double value() const;
  /// IoU of one class in % (NaN when it occurs nowhere).
  double class_iou(int64_t c) const;

 private:
  int64_t classes_;
  std::vector<int64_t> confusion_;  // [target][predicted]
};

/// Intersection over union of two boxes given as corners (x1, y1, x2, y2); 0 when they do not
/// overlap. Scalar, for loops over a few boxes (detection.h's box_iou is the tensor form).
template <typename T>
double corner_box_iou(const T* a, const T* b) {
  double w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  double h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  double inter = w * h;
  double area_a = static_cast<double>(a[2] - a[0]) * (a[3] - a[1]);
  double area_b = static_cast<double>(b[2] - b[0]) * (b[3] - b[1]);
  double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0;
}

/// Detection mean average precision in % at one IoU threshold (PASCAL VOC 2010+ / COCO at a
/// single threshold): per class, detections of every image sorted by descending score; a
/// detection is a true positive when it overlaps a not yet matched ground truth of its class
/// with IoU >= the threshold (the best-overlapping one), else a false positive; AP is the area
/// under the precision-recall curve with precision made monotone (all-point interpolation). The
/// mean is over the classes that have ground truth.
class MeanAveragePrecision {
 public:
  MeanAveragePrecision(int64_t classes, double iou_threshold = 0.5);
  /// detections [N, D, 6] (x1, y1, x2, y2, score, class; rows with score <= 0 are padding),
  /// ground truth boxes [N, G, 4] and classes [N, G] (-1 marks padding). Classes 0-based.
  void add(const torch::Tensor& detections, const torch::Tensor& boxes,
           const torch::Tensor& classes);
  double value() const;
  /// AP of one class in % (NaN when it has no ground truth).
  double class_ap(int64_t c) const;

 private:
  struct Scored {
    double score;
    bool true_positive;
  };
  int64_t classes_;
  double iou_threshold_;
  std::vector<std::vector<Scored>> detections_;  // per class
  std::vector<int64_t> ground_truths_;           // per class
};

/// Sequence (word) accuracy in %: the share of sequences decoded exactly, the measure of text
/// recognition (Shi et al. 2017 report it per lexicon-free benchmark).
class SequenceAccuracy {
 public:
  /// decoded label sequences and targets [N, L] (padded) with their lengths [N].
  void add(const std::vector<std::vector<int64_t>>& decoded, const torch::Tensor& targets,
           const torch::Tensor& lengths);
  double value() const;

 private:
  int64_t correct_ = 0;
  int64_t seen_ = 0;
};

}  // namespace dlbench::nn
