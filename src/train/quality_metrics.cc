// Held-out quality metrics (see quality_metrics.h and docs/quality.md).
#include "train/quality_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace dlbench::train {

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

}  // namespace dlbench::train
