// ADADELTA (Zeiler 2012, arXiv:1212.5701), the optimizer CRNN trains with. LibTorch 1.13 has no
// Adadelta; this one follows Zeiler's Algorithm 1 with PyTorch's `lr` scale and weight decay:
//   g   <- grad + weight_decay * x
//   E[g^2]  <- rho E[g^2] + (1 - rho) g^2
//   dx  <- sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
//   E[dx^2] <- rho E[dx^2] + (1 - rho) dx^2
//   x   <- x - lr * dx
// Unit-tested against a hand-computed step in tests/adadelta_test.cc.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

namespace dlbench::nn {

/// Hyper-parameters of Adadelta. Defaults: lr 1 (Zeiler's method has no learning rate), rho 0.9
/// (the value Shi et al. use for CRNN), eps 1e-6 (Zeiler; Torch7 optim.adadelta).
struct AdadeltaOptions : public torch::optim::OptimizerCloneableOptions<AdadeltaOptions> {
  explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
  TORCH_ARG(double, lr) = 1.0;
  TORCH_ARG(double, rho) = 0.9;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0;

  double get_lr() const override { return lr_; }
  void set_lr(const double lr) override { lr_ = lr; }
};

/// Per-parameter state: the running averages of squared gradients and squared updates.
struct AdadeltaParamState : public torch::optim::OptimizerCloneableParamState<AdadeltaParamState> {
  TORCH_ARG(torch::Tensor, square_avg);  ///< E[g^2]
  TORCH_ARG(torch::Tensor, acc_delta);   ///< E[dx^2]
  TORCH_ARG(int64_t, step) = 0;
};

/// Adadelta over parameter groups; state is created lazily on a parameter's first gradient.
class Adadelta : public torch::optim::Optimizer {
 public:
  explicit Adadelta(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                    AdadeltaOptions defaults = AdadeltaOptions());
  explicit Adadelta(std::vector<torch::Tensor> params, AdadeltaOptions defaults = AdadeltaOptions())
      : Adadelta({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  /// One update of every parameter that has a gradient. `closure`, when given, is evaluated
  /// first (with grad enabled) and its loss returned.
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace dlbench::nn
