// LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
// ICLR 2020) as NVIDIA apex's FusedLAMB computes it, the optimizer of the MLPerf HPC DeepCAM
// reference (model/deepcam). See docs/workloads/deepcam.md.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace dlbench::nn {

/// LAMB hyper-parameters (apex.optimizers.FusedLAMB defaults, except lr and weight decay).
struct LambOptions : public torch::optim::OptimizerCloneableOptions<LambOptions> {
  explicit LambOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.01;
  /// Gradients are divided by max(global gradient norm / max_grad_norm, 1) first.
  TORCH_ARG(double, max_grad_norm) = 1.0;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double lr) override { lr_ = lr; }
};

/// Layer-wise adaptive moments, apex FusedLAMB semantics (bias correction, decoupled weight
/// decay, gradient averaging, global gradient-norm clipping, trust ratio applied when weight
/// decay is non-zero):
///   g <- g / max(||G||_2 / max_grad_norm, 1)              (||G||: over all parameters)
///   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
///   u <- (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd p
///   p <- p - lr r u,  r = ||p|| / ||u|| when both are non-zero (and wd != 0), else 1
/// One parameter group; the moments are kept by the optimizer (not in state()).
class Lamb : public torch::optim::Optimizer {
 public:
  Lamb(std::vector<torch::Tensor> params, LambOptions options);
  /// One update of every parameter that has a gradient. Returns the closure's loss, if any.
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Steps taken so far.
  int64_t steps() const { return steps_; }

 private:
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

}  // namespace dlbench::nn
