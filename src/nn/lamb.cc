// LAMB optimizer (apex FusedLAMB semantics). See lamb.h.
#include "nn/lamb.h"

#include <cmath>

namespace dlbench::nn {

Lamb::Lamb(std::vector<torch::Tensor> params, LambOptions options)
    : torch::optim::Optimizer({torch::optim::OptimizerParamGroup(std::move(params))},
                              std::make_unique<LambOptions>(options)) {
  for (const torch::Tensor& p : param_groups_.front().params()) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

torch::Tensor Lamb::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  auto& group = param_groups_.front();
  const auto& o = static_cast<const LambOptions&>(group.options());
  std::vector<torch::Tensor>& params = group.params();

  // Global gradient norm over every parameter, and the clipping divisor it implies.
  std::vector<torch::Tensor> squares;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) squares.push_back(p.grad().pow(2).sum());
  }
  if (squares.empty()) return loss;
  torch::Tensor global_norm = torch::stack(squares).sum().sqrt();
  torch::Tensor clip = torch::clamp_min(global_norm / o.max_grad_norm(), 1.0);

  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1 - std::pow(o.beta1(), t);
  const double correction2 = 1 - std::pow(o.beta2(), t);
  for (size_t i = 0; i < params.size(); ++i) {
    torch::Tensor& p = params[i];
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad() / clip;
    exp_avg_[i].mul_(o.beta1()).add_(g, 1 - o.beta1());
    exp_avg_sq_[i].mul_(o.beta2()).addcmul_(g, g, 1 - o.beta2());
    torch::Tensor update =
        (exp_avg_[i] / correction1) / ((exp_avg_sq_[i] / correction2).sqrt() + o.eps());
    if (o.weight_decay() != 0) update.add_(p, o.weight_decay());
    torch::Tensor ratio = torch::ones({}, p.options());
    if (o.weight_decay() != 0) {
      torch::Tensor p_norm = p.norm();
      torch::Tensor u_norm = update.norm();
      ratio = torch::where((p_norm > 0) & (u_norm > 0), p_norm / u_norm, ratio);
    }
    p.sub_(update * (ratio * o.lr()));
  }
  return loss;
}

}  // namespace dlbench::nn
