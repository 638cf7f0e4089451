// micro/activation: element-wise activation functions (relu, gelu, sigmoid, tanh, silu),
// forward or backward; the activation layers of CNNs, RNN gates and transformer MLPs.
//
// bytes = 2 elements e forward (x read, y written), 3 elements e backward (grad_out and x or y
// read, grad_in written); e = element size.
// FLOPs per element, nominal (one exp or erf counts as 1 FLOP):
//            fwd                                      bwd
//   relu     1 (max(x, 0))                            1 (select grad_out where y > 0)
//   sigmoid  4 (neg, exp, add, divide)                3 (dy y (1 - y))
//   tanh     5 (1 - 2 / (exp(2x) + 1))                3 (dy (1 - y^2))
//   gelu     5 (x / 2 (1 + erf(x / sqrt 2)))          11 (dy (Phi(x) + x phi(x)): Phi 4, phi 4,
//                                                         multiply, add, multiply by dy)
//   silu     5 (x sigmoid(x))                         9 (dy s (1 + x (1 - s)), s = sigmoid(x))
// See docs/workloads/activation.md.
#include <ATen/ATen.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

enum class Function { kRelu, kGelu, kSigmoid, kTanh, kSilu };

Function parse_function(const std::string& name) {
  if (name == "relu") return Function::kRelu;
  if (name == "gelu") return Function::kGelu;
  if (name == "sigmoid") return Function::kSigmoid;
  if (name == "tanh") return Function::kTanh;
  return Function::kSilu;
}

/// Nominal FLOPs per element {forward, backward}; see the table above.
std::pair<double, double> flops_per_element(Function f) {
  switch (f) {
    case Function::kRelu:
      return {1, 1};
    case Function::kSigmoid:
      return {4, 3};
    case Function::kTanh:
      return {5, 3};
    case Function::kGelu:
      return {5, 11};
    case Function::kSilu:
      return {5, 9};
  }
  return {1, 1};
}

class Activation : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/activation";
    info.category = "micro";
    info.description =
        "element-wise activation (relu, gelu, sigmoid, tanh, silu), forward or "
        "backward";
    info.params = {
        ParamSpec::choice("type", "relu", {"relu", "gelu", "sigmoid", "tanh", "silu"},
                          "the function; gelu is the exact erf form (PyTorch's default)"),
        ParamSpec::integer("elements", int64_t{1} << 24, "elements of the input", 1),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: y = f(x) into a preallocated y; bwd: grad_in = f'(x) grad_out "
                          "(autograd)"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"}, "element type"),
    };
    return info;
  }

  explicit Activation(const Problem& problem)
      : Workload(problem),
        name_(problem.get("type")),
        function_(parse_function(name_)),
        elements_(problem.get_int("elements")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))) {}

  WorkCounts work() const override {
    WorkCounts work;
    double elements = static_cast<double>(elements_);
    auto per_element = flops_per_element(function_);
    work.flops = (backward_ ? per_element.second : per_element.first) * elements;
    work.bytes = (backward_ ? 3 : 2) * elements * dtype_bytes(dtype_);
    work.samples = elements;
    work.sample_unit = "elements";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format("{} {} over {} {} elements", name_, backward_ ? "backward" : "forward",
                            elements_, dtype_name(dtype_));
    auto per_element = flops_per_element(function_);
    d.facts = {
        {"FLOP formula", fmt::format("{:g} x elements (nominal: exp/erf count as 1)",
                                     backward_ ? per_element.second : per_element.first)},
        {"bytes formula", backward_ ? "3 x elements x element size (grad_out, x or y, grad_in)"
                                    : "2 x elements x element size (x, y)"},
        {"check", fmt::format("every element against the explicit fp64 {}; tolerance {:g}",
                              backward_ ? "derivative formula" : "formula", tolerance())},
    };
    return d;
  }

  void setup(ExecContext& context) override {
    auto options =
        at::TensorOptions().dtype(scalar_type(dtype_)).device(context.device.torch_device());
    require_support(fmt::format("{} {} in {} on {}", name_, problem_.get("pass"),
                                dtype_name(dtype_), context.device.name()),
                    [&] {
                      at::Tensor x = at::randn({8}, options);
                      at::Tensor y = at::empty({8}, options);
                      forward_out(y, x);
                      x.requires_grad_(backward_);
                      y = forward(x);
                      if (backward_) torch::autograd::grad({y}, {x}, {at::ones_like(y)});
                    });
    input_ = at::randn({elements_}, options);
    if (backward_) {
      input_.requires_grad_(true);
      output_ = forward(input_);
      grad_out_ = at::randn_like(output_);
    } else {
      output_ = at::empty({elements_}, options);
    }
  }

  void step() override {
    if (backward_) {
      grad_in_ = torch::autograd::grad({output_}, {input_}, {grad_out_}, /*retain_graph=*/true)[0];
    } else {
      forward_out(output_, input_);
    }
  }

  CheckOutcome check() override {
    at::Tensor& got = backward_ ? grad_in_ : output_;
    if (got.defined()) poison(got);
    step();
    at::Tensor x = input_.detach().to(at::kDouble);
    if (!backward_) return check_close(output_, reference(x), tolerance(), "output");
    at::Tensor expected = reference_derivative(x) * grad_out_.to(at::kDouble);
    return check_close(grad_in_, expected, tolerance(), "grad_in");
  }

  void teardown() override { input_ = output_ = grad_out_ = grad_in_ = at::Tensor(); }

 private:
  // Element-wise: no reduction. The backward of sigmoid and tanh in bf16/fp16 is computed from
  // the stored (rounded) output y, so f'(x) = y (1 - y) or 1 - y^2 inherits y's rounding, made
  // larger by the cancellation in 1 - y; it stays within the bound because the elements where
  // 1 - y cancels have the smallest derivatives (measured bf16 errors at 2^24 elements: sigmoid
  // 0.0023, tanh 0.0026 against 0.0078; see docs/workloads/activation.md).
  double tolerance() const { return default_tolerance(dtype_); }

  void forward_out(at::Tensor& y, const at::Tensor& x) const {
    switch (function_) {
      case Function::kRelu:
        at::clamp_min_out(y, x, 0);  // relu_out is missing from some LibTorch versions
        break;
      case Function::kGelu:
        at::gelu_out(y, x);
        break;
      case Function::kSigmoid:
        at::sigmoid_out(y, x);
        break;
      case Function::kTanh:
        at::tanh_out(y, x);
        break;
      case Function::kSilu:
        at::silu_out(y, x);
        break;
    }
  }

  /// The differentiable op a network's forward calls (its backward is what pass=bwd times).
  at::Tensor forward(const at::Tensor& x) const {
    switch (function_) {
      case Function::kRelu:
        return at::relu(x);
      case Function::kGelu:
        return at::gelu(x);
      case Function::kSigmoid:
        return at::sigmoid(x);
      case Function::kTanh:
        return at::tanh(x);
      case Function::kSilu:
        return at::silu(x);
    }
    return x;
  }

  /// f(x) written out in fp64 from exp / erf.
  at::Tensor reference(const at::Tensor& x) const {
    switch (function_) {
      case Function::kRelu:
        return at::where(x > 0, x, at::zeros_like(x));
      case Function::kGelu:
        return 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
      case Function::kSigmoid:
        return 1 / (1 + at::exp(-x));
      case Function::kTanh:
        return 1 - 2 / (at::exp(2 * x) + 1);
      case Function::kSilu:
        return x / (1 + at::exp(-x));
    }
    return x;
  }

  /// f'(x) written out in fp64 (ReLU's derivative at 0 taken as 0, as PyTorch does).
  at::Tensor reference_derivative(const at::Tensor& x) const {
    switch (function_) {
      case Function::kRelu:
        return (x > 0).to(at::kDouble);
      case Function::kGelu: {
        at::Tensor cdf = 0.5 * (1 + at::erf(x / std::sqrt(2.0)));
        at::Tensor pdf = at::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
        return cdf + x * pdf;
      }
      case Function::kSigmoid: {
        at::Tensor s = 1 / (1 + at::exp(-x));
        return s * (1 - s);
      }
      case Function::kTanh: {
        at::Tensor t = 1 - 2 / (at::exp(2 * x) + 1);
        return 1 - t * t;
      }
      case Function::kSilu: {
        at::Tensor s = 1 / (1 + at::exp(-x));
        return s * (1 + x * (1 - s));
      }
    }
    return x;
  }

  std::string name_;
  Function function_;
  int64_t elements_;
  bool backward_;
  DType dtype_;
  at::Tensor input_, output_, grad_out_, grad_in_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Activation);

}  // namespace dlbench
