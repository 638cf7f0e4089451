#include "workloads/model/recsys/recsys.h"

#include "workloads/common/zipf.h"

#include <cmath>

namespace dlbench::model {

torch::Tensor zipf_ids(torch::IntArrayRef shape, int64_t rows, double alpha,
                       const torch::Device& device) {
  torch::Tensor rank = zipf_ranks(shape, rows, alpha, device);
  // A bijection on [0, rows) whenever rows is not a multiple of the (prime) multiplier.
  return (rank * int64_t{2654435761}).remainder(rows);
}

void RecsysWorkload::score_requests(const Requests& requests) {
  auc_.add(click_probability(predict(embed(requests), requests)).to(torch::kFloat),
           requests.labels);
}

torch::Tensor hidden_weights(const torch::Tensor& ids, int64_t salt) {
  torch::Tensor x =
      torch::sin(ids.to(torch::kDouble) * 12.9898 + 78.233 * static_cast<double>(salt));
  x = x * 43758.5453;
  return ((x - torch::floor(x)) * 2 - 1).to(torch::kFloat);
}

torch::Tensor clicks_from_scores(const torch::Tensor& scores) {
  return (scores > scores.median()).to(torch::kFloat);
}

torch::Tensor behaviour_mask(int64_t count, int64_t sequence, int64_t shortest,
                             const torch::Device& device) {
  auto long_options = torch::dtype(torch::kLong).device(device);
  torch::Tensor lengths = torch::randint(shortest, sequence + 1, {count, 1}, long_options);
  return (torch::arange(sequence, long_options).unsqueeze(0) < lengths).to(torch::kFloat);
}

torch::Tensor category_match(const torch::Tensor& categories,
                             const torch::Tensor& candidate_categories, const torch::Tensor& mask) {
  return (hidden_weights(categories, 1) * hidden_weights(candidate_categories, 1).unsqueeze(1) *
          mask)
             .sum(1) /
         mask.sum(1);
}

MlpImpl::MlpImpl(const std::vector<int64_t>& widths, bool relu_last) : relu_last_(relu_last) {
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    layers_.push_back(
        register_module("fc" + std::to_string(i + 1), torch::nn::Linear(widths[i], widths[i + 1])));
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = counted(layers_[i], x);
    if (relu_last_ || i + 1 < layers_.size()) x = torch::relu(x);
  }
  return x;
}

DiceImpl::DiceImpl(int64_t channels) {
  norm_ = register_module(
      "norm", torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(channels).affine(false)));
  alpha_ = register_parameter("alpha", torch::zeros({channels}));
}

torch::Tensor DiceImpl::forward(const torch::Tensor& x) {
  torch::Tensor flat = x.reshape({-1, x.size(-1)});
  torch::Tensor p = torch::sigmoid(norm_(flat.to(torch::kFloat))).view(x.sizes());
  return p * x + (1 - p) * alpha_ * x;
}

DiceMlpImpl::DiceMlpImpl(const std::vector<int64_t>& widths) {
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    layers_.push_back(
        register_module("fc" + std::to_string(i + 1), torch::nn::Linear(widths[i], widths[i + 1])));
    if (i + 2 < widths.size()) {
      activations_.push_back(register_module("dice" + std::to_string(i + 1), Dice(widths[i + 1])));
    }
  }
}

torch::Tensor DiceMlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = counted(layers_[i], x);
    if (i < activations_.size()) x = activations_[i]->forward(x);
  }
  return x;
}

double mlp_flops(const std::vector<int64_t>& widths) {
  double flops = 0;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    flops += 2.0 * static_cast<double>(widths[i]) * static_cast<double>(widths[i + 1]);
  }
  return flops;
}

double mlp_train_flops(const std::vector<int64_t>& widths, bool input_needs_grad) {
  double total = 2 * mlp_flops(widths);  // forward + weight gradients
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    if (i > 0 || input_needs_grad) {
      total += 2.0 * static_cast<double>(widths[i]) * static_cast<double>(widths[i + 1]);
    }
  }
  return total;
}

int64_t mlp_parameters(const std::vector<int64_t>& widths) {
  int64_t total = 0;
  for (size_t i = 0; i + 1 < widths.size(); ++i) total += (widths[i] + 1) * widths[i + 1];
  return total;
}

void RecsysWorkload::make_batch() {
  batch_ = make_requests(batch());
  if (!training_) single_ = make_requests(1);
}

torch::Tensor RecsysWorkload::click_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor out = logits.to(torch::kFloat);
  if (out.dim() == 2) return torch::cross_entropy_loss(out, labels.to(torch::kLong));
  return torch::binary_cross_entropy_with_logits(out, labels);
}

torch::Tensor RecsysWorkload::click_probability(const torch::Tensor& logits) {
  torch::Tensor out = logits.to(torch::kFloat);
  if (out.dim() == 2) return torch::softmax(out, 1).select(1, 1);
  return torch::sigmoid(out);
}

torch::Tensor RecsysWorkload::training_loss() {
  return click_loss(predict(embed(batch_), batch_), batch_.labels);
}

torch::Tensor RecsysWorkload::inference() {
  return click_probability(predict(embed(batch_), batch_));
}

std::vector<Probe> RecsysWorkload::probes() {
  std::vector<Probe> probes;
  const double n = static_cast<double>(batch());
  const std::string unit = model_facts().sample_unit;
  if (training_) {
    probes.push_back(make_probe(
        "embedding",
        "the embedding lookups of the step's batch and their gradients (no optimizer update)",
        [this] {
          torch::Tensor total = torch::zeros({}, torch::device(device()));
          for (const torch::Tensor& e : embed(batch_)) total = total + e.to(torch::kFloat).sum();
          std::vector<torch::Tensor> weights;
          for (const torch::Tensor& p : net().parameters()) {
            if (p.requires_grad()) weights.push_back(p);
          }
          torch::autograd::grad({total}, weights, {}, false, false, /*allow_unused=*/true);
        },
        n, unit, true));
    return probes;
  }
  probes.push_back(make_probe(
      "batch1", "one request at batch 1: lookups, model and click probability",
      [this] { click_probability(predict(embed(single_), single_)); }, 1, "queries"));
  probes.push_back(make_probe(
      "embedding", "the embedding lookups of the step's batch", [this] { embed(batch_); }, n, unit,
      true));
  return probes;
}

}  // namespace dlbench::model
