// ADADELTA optimizer (Zeiler 2012) for LibTorch; see adadelta.h.
#include "nn/adadelta.h"

#include "core/error.h"

namespace dlbench::nn {

Adadelta::Adadelta(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                   AdadeltaOptions defaults)
    : torch::optim::Optimizer(std::move(param_groups),
                              std::make_unique<AdadeltaOptions>(defaults)) {
  if (defaults.lr() < 0) throw Error("Adadelta: learning rate must be >= 0");
  if (defaults.rho() < 0 || defaults.rho() > 1) throw Error("Adadelta: rho must be in [0, 1]");
  if (defaults.eps() < 0) throw Error("Adadelta: eps must be >= 0");
  if (defaults.weight_decay() < 0) throw Error("Adadelta: weight decay must be >= 0");
}

torch::Tensor Adadelta::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const AdadeltaOptions&>(group.options());
    const double rho = options.rho();
    const double eps = options.eps();
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      if (options.weight_decay() != 0) grad = grad.add(p, options.weight_decay());
      auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto state = std::make_unique<AdadeltaParamState>();
        state->square_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->acc_delta(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(state)).first;
      }
      auto& state = static_cast<AdadeltaParamState&>(*it->second);
      state.step(state.step() + 1);
      torch::Tensor& square_avg = state.square_avg();
      torch::Tensor& acc_delta = state.acc_delta();
      square_avg.mul_(rho).addcmul_(grad, grad, 1 - rho);
      torch::Tensor delta = acc_delta.add(eps).sqrt_().div_(square_avg.add(eps).sqrt_()).mul_(grad);
      acc_delta.mul_(rho).addcmul_(delta, delta, 1 - rho);
      p.add_(delta, -options.lr());
    }
  }
  return loss;
}

}  // namespace dlbench::nn
