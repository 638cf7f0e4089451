// Held-out quality metrics (see quality_metrics.h and docs/quality.md).
#include "nn/quality_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace dlbench::nn {

void TopOneAccuracy::add(const torch::Tensor& scores, const torch::Tensor& labels) {
  if (scores.dim() != 2 || labels.dim() != 1 || scores.size(0) != labels.size(0)) {
    throw Error("top-1 accuracy: expected scores [N, C] and labels [N]");
  }
  torch::Tensor predicted = scores.argmax(1).to(torch::kCPU);
  correct_ += predicted.eq(labels.to(torch::kCPU).to(torch::kLong)).sum().item<int64_t>();
  seen_ += labels.size(0);
}

double TopOneAccuracy::value() const {
  return seen_ == 0 ? NAN : 100.0 * static_cast<double>(correct_) / static_cast<double>(seen_);
}

void RocAuc::add(const torch::Tensor& scores, const torch::Tensor& labels) {
  torch::Tensor s = scores.detach().reshape({-1}).to(torch::kCPU, torch::kDouble).contiguous();
  torch::Tensor l = labels.detach().reshape({-1}).to(torch::kCPU, torch::kDouble).contiguous();
  if (s.numel() != l.numel()) throw Error("ROC AUC: scores and labels differ in length");
  const double* sp = s.data_ptr<double>();
  const double* lp = l.data_ptr<double>();
  for (int64_t i = 0; i < s.numel(); ++i) {
    scores_.push_back(sp[i]);
    labels_.push_back(lp[i] > 0.5 ? 1 : 0);
  }
}

double RocAuc::value() const {
  size_t n = scores_.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores_[a] < scores_[b]; });
  // Sum of the positives' ranks, ties sharing their average rank (1-based).
  double positive_rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores_[order[j]] == scores_[order[i]]) ++j;
    double average_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (size_t k = i; k < j; ++k) {
      if (labels_[order[k]]) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  int64_t negatives = static_cast<int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return NAN;
  double p = static_cast<double>(positives);
  double u = positive_rank_sum - p * (p + 1) / 2;
  return u / (p * static_cast<double>(negatives));
}

void MeanAbsoluteError::add(const torch::Tensor& predictions, const torch::Tensor& targets) {
  if (predictions.numel() != targets.numel()) {
    throw Error("mean absolute error: predictions and targets differ in size");
  }
  sum_ += (predictions.detach().to(torch::kCPU, torch::kDouble).reshape({-1}) -
           targets.detach().to(torch::kCPU, torch::kDouble).reshape({-1}))
              .abs()
              .sum()
              .item<double>();
  count_ += predictions.numel();
}

double MeanAbsoluteError::value() const {
  return count_ == 0 ? NAN : sum_ / static_cast<double>(count_);
}

void Perplexity::add(double summed_nll, int64_t token_count) {
  nll_ += summed_nll;
  tokens_ += token_count;
}

double Perplexity::value() const {
  return tokens_ == 0 ? NAN : std::exp(nll_ / static_cast<double>(tokens_));
}

MeanIou::MeanIou(int64_t classes)
    : classes_(classes), confusion_(static_cast<size_t>(classes * classes), 0) {}

void MeanIou::add(const torch::Tensor& predicted, const torch::Tensor& target) {
  if (predicted.sizes() != target.sizes()) throw Error("mean IoU: maps differ in shape");
  torch::Tensor p = predicted.to(torch::kCPU, torch::kLong).reshape({-1});
  torch::Tensor t = target.to(torch::kCPU, torch::kLong).reshape({-1});
  if (p.numel() == 0) return;
  if (p.min().item<int64_t>() < 0 || p.max().item<int64_t>() >= classes_ ||
      t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= classes_) {
    throw Error("mean IoU: a class index is outside [0, " + std::to_string(classes_) + ")");
  }
  torch::Tensor counts = torch::bincount(t * classes_ + p, {}, classes_ * classes_);
  const int64_t* c = counts.data_ptr<int64_t>();
  for (int64_t i = 0; i < classes_ * classes_; ++i) confusion_[static_cast<size_t>(i)] += c[i];
}

double MeanIou::class_iou(int64_t c) const {
  int64_t intersection = confusion_[static_cast<size_t>(c * classes_ + c)];
  int64_t target_total = 0, predicted_total = 0;
  for (int64_t k = 0; k < classes_; ++k) {
    target_total += confusion_[static_cast<size_t>(c * classes_ + k)];
    predicted_total += confusion_[static_cast<size_t>(k * classes_ + c)];
  }
  int64_t union_size = target_total + predicted_total - intersection;
  return union_size == 0 ? NAN : 100.0 * static_cast<double>(intersection) / union_size;
}

double MeanIou::value() const {
  double sum = 0;
  int present = 0;
  for (int64_t c = 0; c < classes_; ++c) {
    double iou = class_iou(c);
    if (std::isnan(iou)) continue;
    sum += iou;
    ++present;
  }
  return present == 0 ? NAN : sum / present;
}

MeanAveragePrecision::MeanAveragePrecision(int64_t classes, double iou_threshold)
    : classes_(classes),
      iou_threshold_(iou_threshold),
      detections_(static_cast<size_t>(classes)),
      ground_truths_(static_cast<size_t>(classes), 0) {}

void MeanAveragePrecision::add(const torch::Tensor& detections, const torch::Tensor& boxes,
                               const torch::Tensor& classes) {
  if (detections.dim() != 3 || detections.size(2) != 6 || boxes.dim() != 3 || boxes.size(2) != 4 ||
      classes.dim() != 2 || boxes.size(0) != detections.size(0) ||
      classes.size(0) != boxes.size(0) || classes.size(1) != boxes.size(1)) {
    throw Error("mAP: expected detections [N, D, 6], boxes [N, G, 4] and classes [N, G]");
  }
  torch::Tensor det = detections.detach().to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor gt = boxes.detach().to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor cls = classes.detach().to(torch::kCPU, torch::kLong).contiguous();
  const int64_t n = det.size(0), d = det.size(1), g = gt.size(1);
  for (int64_t i = 0; i < n; ++i) {
    const float* dp = det.data_ptr<float>() + i * d * 6;
    const float* gp = gt.data_ptr<float>() + i * g * 4;
    const int64_t* cp = cls.data_ptr<int64_t>() + i * g;
    for (int64_t j = 0; j < g; ++j) {
      if (cp[j] < 0) continue;
      if (cp[j] >= classes_) throw Error("mAP: a ground-truth class is out of range");
      ++ground_truths_[static_cast<size_t>(cp[j])];
    }
    // Walk this image's detections by descending score, each matching its best unmatched
    // ground truth of the same class.
    std::vector<int64_t> order;
    for (int64_t k = 0; k < d; ++k) {
      if (dp[k * 6 + 4] > 0) order.push_back(k);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return dp[a * 6 + 4] > dp[b * 6 + 4]; });
    std::vector<bool> matched(static_cast<size_t>(g), false);
    for (int64_t k : order) {
      const float* row = dp + k * 6;
      auto c = static_cast<int64_t>(std::lround(row[5]));
      if (c < 0 || c >= classes_) throw Error("mAP: a detection's class is out of range");
      double best = 0;
      int64_t best_j = -1;
      for (int64_t j = 0; j < g; ++j) {
        if (cp[j] != c) continue;
        double iou = corner_box_iou(row, gp + j * 4);
        if (iou > best) {
          best = iou;
          best_j = j;
        }
      }
      bool tp = best_j >= 0 && best >= iou_threshold_ && !matched[static_cast<size_t>(best_j)];
      if (tp) matched[static_cast<size_t>(best_j)] = true;
      detections_[static_cast<size_t>(c)].push_back({static_cast<double>(row[4]), tp});
    }
  }
}

double MeanAveragePrecision::class_ap(int64_t c) const {
  int64_t positives = ground_truths_[static_cast<size_t>(c)];
  if (positives == 0) return NAN;
  std::vector<Scored> d = detections_[static_cast<size_t>(c)];
  std::stable_sort(d.begin(), d.end(),
                   [](const Scored& a, const Scored& b) { return a.score > b.score; });
  std::vector<double> recall, precision;
  int64_t tp = 0;
  for (size_t k = 0; k < d.size(); ++k) {
    if (d[k].true_positive) ++tp;
    recall.push_back(static_cast<double>(tp) / static_cast<double>(positives));
    precision.push_back(static_cast<double>(tp) / static_cast<double>(k + 1));
  }
  // Monotone precision envelope from the right, then the area over recall steps.
  for (size_t k = precision.size(); k-- > 1;) {
    precision[k - 1] = std::max(precision[k - 1], precision[k]);
  }
  double area = 0, previous_recall = 0;
  for (size_t k = 0; k < recall.size(); ++k) {
    area += (recall[k] - previous_recall) * precision[k];
    previous_recall = recall[k];
  }
  return 100.0 * area;
}

double MeanAveragePrecision::value() const {
  double sum = 0;
  int present = 0;
  for (int64_t c = 0; c < classes_; ++c) {
    double ap = class_ap(c);
    if (std::isnan(ap)) continue;
    sum += ap;
    ++present;
  }
  return present == 0 ? NAN : sum / present;
}

void SequenceAccuracy::add(const std::vector<std::vector<int64_t>>& decoded,
                           const torch::Tensor& targets, const torch::Tensor& lengths) {
  torch::Tensor t = targets.detach().to(torch::kCPU, torch::kLong).contiguous();
  torch::Tensor l = lengths.detach().to(torch::kCPU, torch::kLong).contiguous();
  if (t.dim() != 2 || l.dim() != 1 || t.size(0) != l.size(0) ||
      static_cast<int64_t>(decoded.size()) != t.size(0)) {
    throw Error("sequence accuracy: expected N decoded sequences, targets [N, L], lengths [N]");
  }
  const int64_t width = t.size(1);
  for (int64_t i = 0; i < t.size(0); ++i) {
    const int64_t* row = t.data_ptr<int64_t>() + i * width;
    int64_t length = std::min(l.data_ptr<int64_t>()[i], width);
    const std::vector<int64_t>& got = decoded[static_cast<size_t>(i)];
    if (static_cast<int64_t>(got.size()) == length && std::equal(got.begin(), got.end(), row)) {
      ++correct_;
    }
    ++seen_;
  }
}

double SequenceAccuracy::value() const {
  return seen_ == 0 ? NAN : 100.0 * static_cast<double>(correct_) / static_cast<double>(seen_);
}

}  // namespace dlbench::nn
