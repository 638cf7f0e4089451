// micro/norm: the normalisation layers of CNNs and transformers (batch, layer and group norm,
// and AlexNet/GoogLeNet's local response normalisation), forward or backward; AI Matrix's
// "memory operations".
//
// Work per step is counted analytically with a minimum-traffic model: every tensor of size
// N = n c h w is read or written once (a real kernel may read x twice when it does not fit in
// cache), plus the small per-channel / per-row tensors. e = element size, D = c h w, G = groups.
//   FLOPs (per element of x; O(c) and O(n) arithmetic on statistics is not counted):
//     batch train fwd 5 (sum x: 1, sum x^2: 2, y = x scale + shift: 2)     bwd 7
//     batch eval  fwd 2 (y = x scale + shift)                              bwd 4
//     layer       fwd 7 (stats 3, normalise 2, per-element affine 2)       bwd 13
//     group       fwd 5 (as batch train)                                   bwd 7
//     lrn         fwd size + 4                                             bwd 2 size + 9
//   bytes:
//     batch train fwd (2N + 8c) e  (x, y; weight, bias, running mean/var read; running
//                                   mean/var and the saved mean/invstd written)
//     batch eval  fwd (2N + 4c) e  (x, y; weight, bias, running mean/var)
//     batch       bwd (3N + 5c) e  (x, grad_out, grad_in; weight and 2 statistics; dweight, dbias)
//     layer       fwd (2N + 2D + 2n) e    bwd (3N + 3D + 2n) e
//     group       fwd (2N + 2c + 2nG) e   bwd (3N + 3c + 2nG) e
//     lrn         fwd 2N e                bwd 3N e
// The backward FLOP counts are derived in docs/workloads/norm.md.
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

constexpr double kEps = 1e-5;
constexpr double kMomentum = 0.1;
// AlexNet's LRN constants (Krizhevsky et al. 2012), with PyTorch's / Caffe's alpha / size scaling.
constexpr double kLrnK = 2.0;
constexpr double kLrnAlpha = 1e-4;
constexpr double kLrnBeta = 0.75;

/// The worse of two outcomes: a failure if either failed, else the one closer to its bound.
CheckOutcome worse(const CheckOutcome& a, const CheckOutcome& b) {
  bool a_failed = a.status == CheckOutcome::Status::kFailed;
  bool b_failed = b.status == CheckOutcome::Status::kFailed;
  if (a_failed != b_failed) return a_failed ? a : b;
  return a.error / a.tolerance >= b.error / b.tolerance ? a : b;
}

class Norm : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/norm";
    info.category = "micro";
    info.description =
        "batch / layer / group norm and local response normalisation, forward or backward "
        "(AI Matrix memory operations)";
    info.params = {
        ParamSpec::choice("type", "batch", {"batch", "layer", "group", "lrn"},
                          "batch: per-channel over (n, h, w); layer: per row over (c, h, w); "
                          "group: per (n, group) over (c / groups, h, w); lrn: AlexNet local "
                          "response normalisation across channels"),
        ParamSpec::integer("n", 16, "batch size (rows, i.e. tokens, for layer norm)", 1),
        ParamSpec::integer("c", 64, "channels (hidden size for layer norm)", 1),
        ParamSpec::integer("h", 56, "height (1 for a transformer's layer norm)", 1),
        ParamSpec::integer("w", 56, "width (1 for a transformer's layer norm)", 1),
        ParamSpec::integer("groups", 32,
                           "groups of group norm (must divide c); other types "
                           "ignore it",
                           1),
        ParamSpec::integer("size", 5, "LRN window across channels; other types ignore it", 1),
        ParamSpec::boolean("train", true,
                           "batch norm: batch statistics and running-stat update when true, "
                           "running statistics when false; other types ignore it"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: the normalisation; bwd: gradients w.r.t. input, weight and bias "
                          "(autograd)"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"},
                          "element type of input, output and parameters"),
    };
    return info;
  }

  explicit Norm(const Problem& problem)
      : Workload(problem),
        type_(problem.get("type")),
        n_(problem.get_int("n")),
        c_(problem.get_int("c")),
        h_(problem.get_int("h")),
        w_(problem.get_int("w")),
        groups_(problem.get_int("groups")),
        size_(problem.get_int("size")),
        train_(problem.get_bool("train")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))) {
    if (type_ == "group" && c_ % groups_ != 0) {
      throw Error(
          fmt::format("micro/norm: groups={} must divide c={} for group norm", groups_, c_));
    }
    if (type_ == "batch" && train_ && n_ * h_ * w_ < 2) {
      throw Error(
          "micro/norm: training batch norm needs more than one value per channel "
          "(n h w >= 2)");
    }
  }

  WorkCounts work() const override {
    double e = dtype_bytes(dtype_);
    double N = static_cast<double>(n_ * c_ * h_ * w_), c = static_cast<double>(c_);
    double n = static_cast<double>(n_), D = static_cast<double>(c_ * h_ * w_);
    double nG = static_cast<double>(n_ * groups_), size = static_cast<double>(size_);
    WorkCounts work;
    if (type_ == "batch") {
      if (backward_) {
        work.flops = (train_ ? 7 : 4) * N;
        work.bytes = (3 * N + 5 * c) * e;
      } else {
        work.flops = (train_ ? 5 : 2) * N;
        work.bytes = (2 * N + (train_ ? 8 : 4) * c) * e;
      }
    } else if (type_ == "layer") {
      work.flops = (backward_ ? 13 : 7) * N;
      work.bytes = backward_ ? (3 * N + 3 * D + 2 * n) * e : (2 * N + 2 * D + 2 * n) * e;
    } else if (type_ == "group") {
      work.flops = (backward_ ? 7 : 5) * N;
      work.bytes = backward_ ? (3 * N + 3 * c + 2 * nG) * e : (2 * N + 2 * c + 2 * nG) * e;
    } else {
      work.flops = (backward_ ? 2 * size + 9 : size + 4) * N;
      work.bytes = (backward_ ? 3 : 2) * N * e;
    }
    work.samples = n;
    work.sample_unit = type_ == "layer" ? "rows" : "images";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    std::string what =
        type_ == "batch"
            ? std::string("batch norm (") +
                  (train_ ? "training, batch statistics" : "inference, running statistics") + ")"
        : type_ == "layer" ? std::string("layer norm over (c, h, w)")
        : type_ == "group" ? fmt::format("group norm, {} groups", groups_)
                           : fmt::format(
                                 "local response norm, window {} (k=2, "
                                 "alpha=1e-4, beta=0.75)",
                                 size_);
    d.summary = fmt::format("{} {} on [{}, {}, {}, {}] {}", what,
                            backward_ ? "backward" : "forward", n_, c_, h_, w_, dtype_name(dtype_));
    std::string flops, bytes;
    if (type_ == "batch") {
      flops =
          backward_ ? (train_ ? "7 n c h w" : "4 n c h w") : (train_ ? "5 n c h w" : "2 n c h w");
      bytes = backward_ ? "(3 n c h w + 5 c) x element size"
                        : (train_ ? "(2 n c h w + 8 c) x element size"
                                  : "(2 n c h w + 4 c) x element size");
    } else if (type_ == "layer") {
      flops = backward_ ? "13 n c h w" : "7 n c h w";
      bytes = backward_ ? "(3 n c h w + 3 c h w + 2 n) x element size"
                        : "(2 n c h w + 2 c h w + 2 n) x element size";
    } else if (type_ == "group") {
      flops = backward_ ? "7 n c h w" : "5 n c h w";
      bytes = backward_ ? "(3 n c h w + 3 c + 2 n groups) x element size"
                        : "(2 n c h w + 2 c + 2 n groups) x element size";
    } else {
      flops = backward_ ? "(2 size + 9) n c h w" : "(size + 4) n c h w";
      bytes = backward_ ? "3 n c h w x element size" : "2 n c h w x element size";
    }
    d.facts = {
        {"FLOP formula", flops + " (nominal: per-element arithmetic, pow counted as 1)"},
        {"bytes formula", bytes + " (minimum traffic: each tensor once)"},
        {"reduction length", fmt::format("{:.0f}", reduction_length())},
        {"check",
         fmt::format("{} against an explicit fp64 formula{}; tolerance {:g}",
                     backward_ ? "gradients (input, weight, bias)" : "every output element",
                     backward_ ? " differentiated by fp64 autograd" : "", tolerance())},
    };
    if (backward_ && parameter_tolerance() != tolerance()) {
      d.facts.push_back({"weight/bias gradient tolerance",
                         fmt::format("{:g} (partial sums in the storage dtype; see the doc page)",
                                     parameter_tolerance())});
    }
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    require_support(
        fmt::format("{} {} in {} on {}", problem_.get("type"), problem_.get("pass"),
                    dtype_name(dtype_), context.device.name()),
        [&] {
          int64_t c = type_ == "group" ? groups_ : 2;
          at::Tensor x = at::randn({2, c, 2, 2}, options).requires_grad_(backward_);
          std::vector<at::Tensor> inputs = {x};
          at::Tensor weight, bias, mean, var;
          if (type_ != "lrn") {
            bool per_element = type_ == "layer";
            weight = at::ones(per_element ? std::vector<int64_t>{c, 2, 2} : std::vector<int64_t>{c},
                              options)
                         .requires_grad_(backward_);
            bias = at::zeros_like(weight).requires_grad_(backward_);
            mean = at::zeros({c}, options);
            var = at::ones({c}, options);
            inputs.push_back(weight);
            inputs.push_back(bias);
          }
          at::Tensor y = forward(x, weight, bias, mean, var);
          if (backward_) torch::autograd::grad({y}, inputs, {at::ones_like(y)});
        });
    // A non-zero mean, so a kernel that skipped the mean subtraction would fail the check.
    input_ = at::randn({n_, c_, h_, w_}, options) + 0.5;
    if (type_ != "lrn") {
      std::vector<int64_t> shape =
          type_ == "layer" ? std::vector<int64_t>{c_, h_, w_} : std::vector<int64_t>{c_};
      weight_ = at::rand(shape, options) + 0.5;
      bias_ = at::randn(shape, options);
    }
    if (type_ == "batch") {
      running_mean_ = at::randn({c_}, options) * 0.1 + 0.5;
      running_var_ = at::rand({c_}, options) + 0.5;
    }
    if (backward_) {
      input_.requires_grad_(true);
      grad_inputs_ = {input_};
      if (type_ != "lrn") {
        weight_.requires_grad_(true);
        bias_.requires_grad_(true);
        grad_inputs_.push_back(weight_);
        grad_inputs_.push_back(bias_);
      }
      output_ = forward(input_, weight_, bias_, running_mean_, running_var_);
      grad_out_ = at::randn_like(output_);
    }
  }

  void step() override {
    if (backward_) {
      grads_ = torch::autograd::grad({output_}, grad_inputs_, {grad_out_}, /*retain_graph=*/true);
    } else {
      output_ = forward(input_, weight_, bias_, running_mean_, running_var_);
    }
  }

  CheckOutcome check() override {
    at::Tensor x = input_.detach().to(at::kDouble);
    at::Tensor weight = weight_.defined() ? weight_.detach().to(at::kDouble) : at::Tensor();
    at::Tensor bias = bias_.defined() ? bias_.detach().to(at::kDouble) : at::Tensor();
    // Running statistics as the checked step sees them (a training step updates them).
    // clone(): for fp64 .to() would alias the tensors the step updates in place.
    at::Tensor old_mean =
        running_mean_.defined() ? running_mean_.to(at::kDouble).clone() : at::Tensor();
    at::Tensor old_var =
        running_var_.defined() ? running_var_.to(at::kDouble).clone() : at::Tensor();
    if (backward_) {
      for (at::Tensor& g : grads_) poison(g);
      step();
      x.requires_grad_(true);
      std::vector<at::Tensor> inputs = {x};
      if (type_ != "lrn") {
        weight.requires_grad_(true);
        bias.requires_grad_(true);
        inputs.push_back(weight);
        inputs.push_back(bias);
      }
      at::Tensor y = reference(x, weight, bias, old_mean, old_var);
      auto expected = torch::autograd::grad({y}, inputs, {grad_out_.to(at::kDouble)});
      static const char* kNames[] = {"grad_input", "grad_weight", "grad_bias"};
      CheckOutcome outcome = check_close(grads_[0], expected[0], tolerance(), kNames[0]);
      for (size_t i = 1; i < expected.size(); ++i) {
        outcome =
            worse(outcome, check_close(grads_[i], expected[i], parameter_tolerance(), kNames[i]));
      }
      return outcome;
    }
    if (output_.defined()) poison(output_);
    step();
    at::Tensor expected = reference(x, weight, bias, old_mean, old_var);
    CheckOutcome outcome = check_close(output_, expected, tolerance(), "output");
    if (type_ == "batch" && train_) {
      // The running statistics' update: momentum 0.1, unbiased variance (PyTorch's rule).
      int64_t m = n_ * h_ * w_;
      at::Tensor mean = x.mean({0, 2, 3});
      at::Tensor var = (x - mean.view({1, -1, 1, 1})).pow(2).sum({0, 2, 3}) / (m - 1);
      at::Tensor new_mean = (1 - kMomentum) * old_mean + kMomentum * mean;
      at::Tensor new_var = (1 - kMomentum) * old_var + kMomentum * var;
      outcome = worse(outcome, check_close(running_mean_, new_mean, tolerance(), "running_mean"));
      outcome = worse(outcome, check_close(running_var_, new_var, tolerance(), "running_var"));
    }
    return outcome;
  }

  void teardown() override {
    input_ = weight_ = bias_ = running_mean_ = running_var_ = output_ = grad_out_ = at::Tensor();
    grads_.clear();
    grad_inputs_.clear();
  }

 private:
  /// The number of elements each statistic (or, backward, each weight gradient) sums over.
  double reduction_length() const {
    double hw = static_cast<double>(h_ * w_), n = static_cast<double>(n_);
    double c = static_cast<double>(c_);
    if (type_ == "batch") return train_ || backward_ ? n * hw : 1;
    if (type_ == "layer") return backward_ ? std::max(c * hw, n) : c * hw;
    if (type_ == "group") {
      double group = c / static_cast<double>(groups_) * hw;
      return backward_ ? std::max(group, n * hw) : group;
    }
    return static_cast<double>(size_);
  }
  double tolerance() const { return default_tolerance(dtype_, reduction_length()); }
  /// The bound for grad_weight and grad_bias. In bf16/fp16, LibTorch 1.13's CPU layer and group
  /// norm backward behave as if partial sums of these gradients were kept in the storage dtype
  /// (layer norm: the rows added up in bf16; group norm: per-(n, c) sums of dy x and dy rounded
  /// to bf16, then cancelling against the mean term). Measured on the test VM (bf16): layer norm
  /// grad_bias errors 0.007 (16 rows), 0.020 (512), 0.044 (2048), growing like u sqrt(rows);
  /// group norm grad_weight 0.017 to 0.023 at any n, against a default bound of 0.0078. So the
  /// bound gets 4 x the default (rounded partials) plus u sqrt(n) (accumulation over the rows).
  double parameter_tolerance() const {
    if (!is_half_precision(dtype_) || (type_ != "layer" && type_ != "group")) return tolerance();
    return 4 * tolerance() + unit_roundoff(dtype_) * std::sqrt(static_cast<double>(n_));
  }

  /// The operation under test, through LibTorch's own normalisation ops.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     const at::Tensor& running_mean, const at::Tensor& running_var) const {
    if (type_ == "batch") {
      return at::batch_norm(x, weight, bias, running_mean, running_var, train_, kMomentum, kEps,
                            /*cudnn_enabled=*/true);
    }
    if (type_ == "layer") {
      return at::layer_norm(x, {x.size(1), x.size(2), x.size(3)}, weight, bias, kEps);
    }
    if (type_ == "group") return at::group_norm(x, groups_, weight, bias, kEps);
    // LRN as LibTorch's torch::nn::functional::local_response_norm computes it (square, zero-pad
    // the channels, average over the window, scale, add k, pow, divide), but with the window
    // average as an avg_pool2d over an (n, 1, c, h w) view instead of its avg_pool3d over
    // (n, 1, c, h, w): same arithmetic, and LibTorch 1.13 has no bf16 avg_pool3d on the CPU.
    int64_t n = x.size(0), c = x.size(1);
    at::Tensor squares = (x * x).reshape({n, 1, c, -1});
    squares = at::constant_pad_nd(squares, {0, 0, size_ / 2, (size_ - 1) / 2}, 0.0);
    at::Tensor average = at::avg_pool2d(squares, {size_, 1}, /*stride=*/{1, 1}, /*padding=*/{0, 0},
                                        /*ceil_mode=*/false, /*count_include_pad=*/true);
    at::Tensor denominator = (average.reshape(x.sizes()) * kLrnAlpha + kLrnK).pow(kLrnBeta);
    return x / denominator;
  }

  /// The reference, written out in fp64 from elementary ops (mean, sums, pow), independent of
  /// LibTorch's normalisation kernels. Variances are biased (divide by the count), as every one
  /// of these layers normalises with.
  at::Tensor reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       const at::Tensor& running_mean, const at::Tensor& running_var) const {
    auto normalise = [](const at::Tensor& v, at::IntArrayRef dims) {
      at::Tensor mean = v.mean(dims, /*keepdim=*/true);
      at::Tensor centred = v - mean;
      at::Tensor var = (centred * centred).mean(dims, /*keepdim=*/true);
      return centred / at::sqrt(var + kEps);
    };
    auto per_channel = [](const at::Tensor& t) { return t.view({1, -1, 1, 1}); };
    if (type_ == "batch") {
      at::Tensor xhat =
          train_ ? normalise(x, {0, 2, 3})
                 : (x - per_channel(running_mean)) / at::sqrt(per_channel(running_var) + kEps);
      return xhat * per_channel(weight) + per_channel(bias);
    }
    if (type_ == "layer") {
      return normalise(x, {1, 2, 3}) * weight.unsqueeze(0) + bias.unsqueeze(0);
    }
    if (type_ == "group") {
      at::Tensor xhat = normalise(x.reshape({n_, groups_, -1}), {2}).reshape(x.sizes());
      return xhat * per_channel(weight) + per_channel(bias);
    }
    // LRN: b_c = a_c / (k + alpha / size * sum_{c' = c - size/2}^{c + (size-1)/2} a_c'^2)^beta,
    // channels outside [0, c) contributing zero; the window sum is written as shifted slices.
    int64_t before = size_ / 2, after = (size_ - 1) / 2;
    at::Tensor squares = at::constant_pad_nd(x * x, {0, 0, 0, 0, before, after}, 0.0);
    at::Tensor window_sum = at::zeros_like(x);
    for (int64_t offset = 0; offset < size_; ++offset) {
      window_sum = window_sum + squares.narrow(1, offset, c_);
    }
    return x / at::pow(kLrnK + kLrnAlpha / static_cast<double>(size_) * window_sum, kLrnBeta);
  }

  std::string type_;
  int64_t n_, c_, h_, w_, groups_, size_;
  bool train_, backward_;
  DType dtype_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor input_, weight_, bias_, running_mean_, running_var_, output_, grad_out_;
  std::vector<at::Tensor> grad_inputs_, grads_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Norm);

}  // namespace dlbench
