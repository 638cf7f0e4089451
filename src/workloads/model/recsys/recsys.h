// Shared parts of the recommendation models (model/wide_deep, din, dien, dlrm, ncf): Zipf-skewed
// generated ids, counted MLPs, click labels from a hidden model, and RecsysWorkload, the base that
// adds what recommendation inference is judged by: latency at batch 1 and the share of time spent
// in embedding lookups (both measured as probes, see core/workload.h). docs/workloads/recsys.md.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "nn/quality_metrics.h"
#include "workloads/model/model.h"

namespace dlbench::model {

/// Ids in [0, rows) whose popularity ranks follow a Zipf law, P(rank r) ~ (r + 1)^-alpha
/// (zipf_ranks, workloads/common/zipf.h; alpha = 0 is uniform), scattered over the table by a
/// multiplicative hash so that popular rows are not neighbours (production ids are hashed).
/// Drawn from the current torch generator, on `device`.
torch::Tensor zipf_ids(torch::IntArrayRef shape, int64_t rows, double alpha,
                       const torch::Device& device);

/// Pseudo-random weights in [-1, 1] of ids, fixed by `salt`: a hidden linear model that click
/// labels are drawn from, so that a recommendation model has something to learn.
torch::Tensor hidden_weights(const torch::Tensor& ids, int64_t salt);

/// Click labels (float 0/1, [n]) from per-sample scores: clicked when the score exceeds the
/// batch median, so the classes are balanced and a deterministic function of the features.
torch::Tensor clicks_from_scores(const torch::Tensor& scores);

/// Masks [count, sequence] (float 1 / 0) of behaviour sequences whose lengths are uniform in
/// [shortest, sequence], padded at the end (DIN, DIEN).
torch::Tensor behaviour_mask(int64_t count, int64_t sequence, int64_t shortest,
                             const torch::Device& device);

/// A user's hidden interest in a candidate: the mean over the valid behaviours of the product of
/// the hidden weights of the behaviours' categories [n, T] and the candidate's category [n].
torch::Tensor category_match(const torch::Tensor& categories,
                             const torch::Tensor& candidate_categories, const torch::Tensor& mask);

/// A stack of counted fully connected layers: widths {in, h1, ..., out}, ReLU after each layer
/// (after the last one too when `relu_last`).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const std::vector<int64_t>& widths, bool relu_last);
  torch::Tensor forward(torch::Tensor x);
  /// The layers, for custom initialisation.
  std::vector<torch::nn::Linear>& layers() { return layers_; }

 private:
  std::vector<torch::nn::Linear> layers_;
  bool relu_last_;
};
TORCH_MODULE(Mlp);

/// Dice (Zhou et al. 2018, DIN): a data-adaptive PReLU. p = sigmoid(BN(s)) with batch
/// statistics (running ones in eval), out = p * s + (1 - p) * alpha * s, alpha learned per
/// channel. Works on [..., channels].
class DiceImpl : public torch::nn::Module {
 public:
  explicit DiceImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm1d norm_{nullptr};
  torch::Tensor alpha_;
};
TORCH_MODULE(Dice);

/// Counted fully connected layers with Dice between them (none after the last): the attention
/// units and prediction MLPs of DIN and DIEN. Works on [..., widths.front()].
class DiceMlpImpl : public torch::nn::Module {
 public:
  explicit DiceMlpImpl(const std::vector<int64_t>& widths);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::vector<torch::nn::Linear> layers_;
  std::vector<Dice> activations_;
};
TORCH_MODULE(DiceMlp);

/// Forward FLOPs per sample of an MLP of `widths`: 2 x sum of in x out.
double mlp_flops(const std::vector<int64_t>& widths);
/// Training FLOPs per sample: forward, weight gradients, and data gradients (all but the first
/// layer's when its input needs none).
double mlp_train_flops(const std::vector<int64_t>& widths, bool input_needs_grad);
/// Trainable parameters of an MLP (weights and biases).
int64_t mlp_parameters(const std::vector<int64_t>& widths);

/// Base of the click-prediction models. A model says how to generate `count` requests, how to look
/// up their embeddings and how to predict from them; the base trains with the binary
/// cross-entropy (or two-way softmax) loss, infers click probabilities, and measures the probes:
/// `batch1` (infer: one request at batch 1, its latency percentiles) and `embedding` (the
/// lookups alone at the step's batch, forward in infer and forward + gradient in train; its
/// share of the step time). A sample is a request: each model's facts give the unit "samples".
class RecsysWorkload : public ModelWorkload {
 public:
  using ModelWorkload::ModelWorkload;
  std::vector<Probe> probes() override;

 protected:
  /// A batch of requests: the model's input tensors and click labels (float 0/1, [n]).
  struct Requests {
    std::vector<torch::Tensor> inputs;
    torch::Tensor labels;
  };
  /// Generates `count` requests on device() (deterministic given the torch seed).
  virtual Requests make_requests(int64_t count) = 0;
  /// The embedding lookups of a forward pass, in the order predict() takes them.
  virtual std::vector<torch::Tensor> embed(const Requests& requests) = 0;
  /// The rest of the forward pass: logits [n] (sigmoid) or [n, 2] (two-way softmax).
  virtual torch::Tensor predict(const std::vector<torch::Tensor>& embedded,
                                const Requests& requests) = 0;

  void make_batch() override;
  torch::Tensor training_loss() override;
  torch::Tensor inference() override;

  /// The step's requests (valid after setup).
  const Requests& batch_requests() const { return batch_; }
  /// The loss of `logits` against `labels` (binary cross-entropy or two-way cross-entropy).
  static torch::Tensor click_loss(const torch::Tensor& logits, const torch::Tensor& labels);
  /// Click probabilities [n] of `logits`.
  static torch::Tensor click_probability(const torch::Tensor& logits);

  /// Quality runs: makes `requests` the batch training_loss() uses.
  void set_batch(Requests requests) { batch_ = std::move(requests); }
  /// Quality runs: adds the click probabilities of held-out requests to the ROC AUC.
  void score_requests(const Requests& requests);
  void begin_scoring() override { auc_ = nn::RocAuc(); }
  double scored_quality() override { return auc_.value(); }

 private:
  Requests batch_;
  Requests single_;
  nn::RocAuc auc_;
};

}  // namespace dlbench::model
