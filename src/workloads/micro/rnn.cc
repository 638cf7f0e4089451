// micro/rnn: DeepBench's recurrent kernels (vanilla RNN with tanh or ReLU, LSTM, GRU) through
// LibTorch's fused multi-layer ops at::rnn_tanh / at::rnn_relu / at::lstm / at::gru (cuDNN on
// CUDA), sequence-major input [timesteps, batch, input].
//
// Work is counted as DeepBench counts it: GEMM FLOPs only. Per layer l, per direction, per
// timestep and per sequence the cell does two GEMMs, W_ih x_t and W_hh h_{t-1}:
//   2 * gates * hidden * (in_l + hidden) FLOPs, gates = 4 (lstm), 3 (gru), 1 (rnn_*),
//   in_0 = input, in_l = hidden * directions for l > 0.
// fwd FLOPs = batch * timesteps * directions * sum_l 2 gates hidden (in_l + hidden); the bias adds
// and the gate nonlinearities are not counted. bwd FLOPs = 2 x fwd (data gradients and weight
// gradients: two GEMMs of the forward's size each for every forward GEMM).
// Bytes (minimum traffic, element size e, P = weights and biases of all layers/directions,
// S = 1 hidden-state tensor (rnn, gru) or 2 (lstm, h and c), N = layers*directions*batch*hidden):
//   fwd: e (P + T B input + T B dirs hidden + 2 S N): weights, input sequence and h0 (c0) read
//   once,
//        output sequence and h_n (c_n) written once; intermediate layers' sequences and the gate
//        pre-activations are taken to stay on chip.
//   bwd: e (2P + 2 T B input + 2 T B dirs hidden + 2 S N): read W, x, h0 (c0), the output sequence
//        and its gradient; write dW, dx, dh0 (dc0). That is exactly 2 x the forward bytes.
// Samples = batch (sequences). See docs/workloads/rnn.md.
#include <ATen/ATen.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

class Rnn : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/rnn";
    info.category = "micro";
    info.description =
        "fused multi-layer RNN / LSTM / GRU over a sequence (DeepBench RNN kernels, cuDNN on CUDA)";
    info.params = {
        ParamSpec::choice("cell", "lstm", {"rnn_tanh", "rnn_relu", "lstm", "gru"},
                          "recurrent cell: vanilla RNN (tanh or ReLU), LSTM (4 gates), GRU (3 "
                          "gates)"),
        ParamSpec::integer("input", 512, "input features per timestep (layer 0)", 1),
        ParamSpec::integer("hidden", 512, "hidden state size", 1),
        ParamSpec::integer("batch", 16, "sequences per step (DeepBench N)", 1),
        ParamSpec::integer("timesteps", 25, "sequence length", 1),
        ParamSpec::integer("layers", 1, "stacked layers (layer l>0 reads hidden x directions)", 1),
        ParamSpec::boolean("bidirectional", false, "a second, time-reversed direction per layer"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: inference forward; bwd: gradients of input, h0 (c0) and every "
                          "weight"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16"}, "element type"),
    };
    return info;
  }

  explicit Rnn(const Problem& problem)
      : Workload(problem),
        cell_(problem.get("cell")),
        input_(problem.get_int("input")),
        hidden_(problem.get_int("hidden")),
        batch_(problem.get_int("batch")),
        timesteps_(problem.get_int("timesteps")),
        layers_(problem.get_int("layers")),
        bidirectional_(problem.get_bool("bidirectional")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))) {}

  WorkCounts work() const override {
    WorkCounts work;
    double t = static_cast<double>(timesteps_), b = static_cast<double>(batch_);
    double h = static_cast<double>(hidden_), dirs = directions(), g = gates();
    double gemm_flops = 0;  // one sequence, forward
    for (int64_t l = 0; l < layers_; ++l) {
      gemm_flops += dirs * t * 2 * g * h * (layer_input(l) + h);
    }
    double fwd_elements = parameter_count() + t * b * static_cast<double>(input_) +
                          t * b * dirs * h + 2 * states() * state_elements();
    work.flops = (backward_ ? 2 : 1) * b * gemm_flops;
    work.bytes = (backward_ ? 2 : 1) * fwd_elements * dtype_bytes(dtype_);
    work.samples = b;
    work.sample_unit = "sequences";
    work.dtype = dtype_name(dtype_);
    work.primary = "flops";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format(
        "{}{} {}, {} layer(s), input {}, hidden {}, batch {} x {} timesteps in {}",
        bidirectional_ ? "bidirectional " : "", cell_, backward_ ? "backward" : "forward", layers_,
        input_, hidden_, batch_, timesteps_, dtype_name(dtype_));
    d.facts = {
        {"operator", op_name()},
        {"gates", fmt::format("{}", gates())},
        {"parameters",
         fmt::format("{:.0f} (weights and biases, all layers and directions)", parameter_count())},
        {"FLOP formula",
         std::string(backward_ ? "2 x " : "") +
             "batch x timesteps x dirs x sum_l 2 gates hidden (in_l + hidden), in_0 = input, "
             "in_l = hidden x dirs (GEMM FLOPs only, as DeepBench counts)"},
        {"bytes formula",
         std::string(backward_ ? "2 x " : "") +
             "(weights + T B input + T B dirs hidden + 2 states layers dirs B hidden) x element "
             "size (weights, input, h0/c0 read once; output, h_n/c_n written once" +
             (backward_ ? "; bwd reads W, x, h0/c0, y, dy and writes dW, dx, dh0/dc0)" : ")")},
        {"check", fmt::format("{} against an explicit fp64 cell loop (at::matmul + gates) on the "
                              "same weights; tolerance {:g}",
                              backward_ ? "gradients of input, h0/c0 and every weight (fp64 "
                                          "autograd of the loop)"
                                        : "output sequence",
                              tolerance())},
    };
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    // A tiny instance of the same fused op (and its backward) so a dtype the library lacks on
    // this device becomes SKIPPED.
    require_support(cell_ + " " + (backward_ ? "backward" : "forward") + " in " +
                        dtype_name(dtype_) + " on " + context.device.name(),
                    [&] {
                      at::AutoGradMode grad_mode(backward_);
                      std::vector<at::Tensor> w = {
                          at::ones({gates() * 2, 3}, options), at::ones({gates() * 2, 2}, options),
                          at::zeros({gates() * 2}, options), at::zeros({gates() * 2}, options)};
                      at::Tensor x = at::ones({2, 1, 3}, options).requires_grad_(backward_);
                      at::Tensor h = at::zeros({1, 1, 2}, options);
                      at::Tensor y = std::get<0>(fused(x, h, h, w, 1, false, backward_));
                      if (backward_) {
                        torch::autograd::grad({y}, {x}, {at::ones_like(y)});
                      }
                    });

    // Weights as PyTorch initialises them: uniform(-1/sqrt(hidden), 1/sqrt(hidden)). Order per
    // layer and direction: w_ih [gates*hidden, in_l], w_hh [gates*hidden, hidden], b_ih, b_hh.
    double bound = 1.0 / std::sqrt(static_cast<double>(hidden_));
    int64_t rows = gates() * hidden_;
    weights_.clear();
    for (int64_t l = 0; l < layers_; ++l) {
      for (int d = 0; d < directions(); ++d) {
        weights_.push_back(at::empty({rows, static_cast<int64_t>(layer_input(l))}, options)
                               .uniform_(-bound, bound));
        weights_.push_back(at::empty({rows, hidden_}, options).uniform_(-bound, bound));
        weights_.push_back(at::empty({rows}, options).uniform_(-bound, bound));
        weights_.push_back(at::empty({rows}, options).uniform_(-bound, bound));
      }
    }
    flatten_for_cudnn();
    x_ = at::randn({timesteps_, batch_, input_}, options);
    h0_ = at::randn({layers_ * directions(), batch_, hidden_}, options);
    if (cell_ == "lstm") c0_ = at::randn({layers_ * directions(), batch_, hidden_}, options);

    if (backward_) {
      // The forward runs once here, recording the graph; the step is the backward alone.
      at::AutoGradMode grad_mode(true);
      leaves_ = {x_.requires_grad_(true), h0_.requires_grad_(true)};
      if (cell_ == "lstm") leaves_.push_back(c0_.requires_grad_(true));
      for (auto& w : weights_) leaves_.push_back(w.requires_grad_(true));
      output_ = std::get<0>(fused(x_, h0_, c0_, weights_, layers_, bidirectional_, true));
      grad_output_ = at::randn(output_.sizes(), options);
    }
  }

  void step() override {
    if (backward_) {
      grads_ = torch::autograd::grad({output_}, leaves_, {grad_output_}, /*retain_graph=*/true);
    } else {
      at::NoGradGuard no_grad;
      output_ = std::get<0>(fused(x_, h0_, c0_, weights_, layers_, bidirectional_, false));
    }
  }

  CheckOutcome check() override {
    auto up = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
    std::vector<at::Tensor> weights64;
    for (auto& w : weights_) weights64.push_back(up(w));
    at::Tensor x64 = up(x_), h64 = up(h0_), c64 = c0_.defined() ? up(c0_) : at::Tensor();
    if (!backward_) {
      poison(output_);
      step();
      at::NoGradGuard no_grad;
      return check_close(output_, reference(x64, h64, c64, weights64), tolerance(),
                         "output sequence");
    }
    for (auto& g : grads_) poison(g);
    step();
    at::AutoGradMode grad_mode(true);
    std::vector<at::Tensor> leaves64 = {x64.requires_grad_(true), h64.requires_grad_(true)};
    if (c64.defined()) leaves64.push_back(c64.requires_grad_(true));
    for (auto& w : weights64) leaves64.push_back(w.requires_grad_(true));
    at::Tensor y64 = reference(x64, h64, c64, weights64);
    std::vector<at::Tensor> expected = torch::autograd::grad({y64}, leaves64, {up(grad_output_)});
    // Every gradient is held to the bound on its own; the result is the worst of them (the
    // largest error / tolerance, NaN first).
    std::vector<std::string> names = {"d input", "d h0"};
    if (c64.defined()) names.push_back("d c0");
    static const char* kWeightNames[] = {"w_ih", "w_hh", "b_ih", "b_hh"};
    for (int64_t l = 0; l < layers_; ++l) {
      for (int d = 0; d < directions(); ++d) {
        for (const char* w : kWeightNames) {
          names.push_back(fmt::format("d {}_l{}{}", w, l, d ? "_reverse" : ""));
        }
      }
    }
    CheckOutcome worst;
    double worst_ratio = -1;
    for (size_t i = 0; i < grads_.size(); ++i) {
      CheckOutcome outcome = check_close(grads_[i], expected[i], tolerance(), names[i]);
      double ratio = std::isnan(outcome.error)
                         ? std::numeric_limits<double>::infinity()
                         : outcome.error / std::max(outcome.tolerance, 1e-300);
      if (ratio > worst_ratio || worst_ratio < 0) {
        worst = outcome;
        worst_ratio = ratio;
      }
    }
    worst.detail +=
        fmt::format("{}worst of {} gradients", worst.detail.empty() ? "" : "; ", grads_.size());
    return worst;
  }

  void teardown() override {
    weights_.clear();
    leaves_.clear();
    grads_.clear();
    x_ = h0_ = c0_ = output_ = grad_output_ = at::Tensor();
  }

 private:
  int gates() const { return cell_ == "lstm" ? 4 : cell_ == "gru" ? 3 : 1; }
  int directions() const { return bidirectional_ ? 2 : 1; }
  int states() const { return cell_ == "lstm" ? 2 : 1; }
  double layer_input(int64_t l) const {
    return static_cast<double>(l == 0 ? input_ : hidden_ * directions());
  }
  double state_elements() const {
    return static_cast<double>(layers_ * directions() * batch_ * hidden_);
  }
  double parameter_count() const {
    double g = gates(), h = static_cast<double>(hidden_), total = 0;
    for (int64_t l = 0; l < layers_; ++l) {
      total += directions() * (g * h * (layer_input(l) + h) + 2 * g * h);
    }
    return total;
  }
  std::string op_name() const { return "at::" + cell_ + " (fused, all layers and directions)"; }
  // The reduction behind one output: in + hidden per timestep, compounded through the sequence
  // (errors of earlier steps reach later ones through the contracting recurrence); the weight
  // gradients also sum over batch x timesteps.
  double tolerance() const {
    double per_step = static_cast<double>(std::max(input_, hidden_ * directions()) + hidden_);
    double reduction = per_step * static_cast<double>(timesteps_);
    if (backward_) reduction = std::max(reduction, static_cast<double>(batch_ * timesteps_));
    double tolerance = default_tolerance(dtype_, reduction);
    if (backward_ && dtype_ != DType::kFp32) {
      // A low-precision backward keeps each timestep's gradients (dh_t, the gate gradients) in
      // the storage type, and the weight gradients are sums of one such contribution per
      // timestep added in the storage type (the autograd engine accumulates them as bf16/fp16
      // tensors): T roundings of about u each, adding like a random walk. Measured on the test
      // VM without this factor: up to 4.5x the bound (rnn_relu, 25 timesteps).
      tolerance *= 1 + std::sqrt(static_cast<double>(timesteps_));
    }
    return tolerance;
  }

  // The fused op; returns (output, h_n, c_n) (c_n undefined except for LSTM).
  std::tuple<at::Tensor, at::Tensor, at::Tensor> fused(const at::Tensor& x, const at::Tensor& h0,
                                                       const at::Tensor& c0,
                                                       const std::vector<at::Tensor>& weights,
                                                       int64_t layers, bool bidirectional,
                                                       bool train) const {
    if (cell_ == "lstm") {
      return at::lstm(x, {h0, c0}, weights, /*has_biases=*/true, layers, /*dropout=*/0.0, train,
                      bidirectional, /*batch_first=*/false);
    }
    std::tuple<at::Tensor, at::Tensor> r;
    if (cell_ == "gru") {
      r = at::gru(x, h0, weights, true, layers, 0.0, train, bidirectional, false);
    } else if (cell_ == "rnn_tanh") {
      r = at::rnn_tanh(x, h0, weights, true, layers, 0.0, train, bidirectional, false);
    } else {
      r = at::rnn_relu(x, h0, weights, true, layers, 0.0, train, bidirectional, false);
    }
    return {std::get<0>(r), std::get<1>(r), at::Tensor()};
  }

  // On CUDA with cuDNN, lays the weights out as views into one buffer in cuDNN's order (what
  // torch.nn.RNN.flatten_parameters does) so a step does not copy every weight (and warn).
  void flatten_for_cudnn() {
    if (!device_.is_cuda()) return;
    at::Tensor probe = at::empty({1, 1, input_}, weights_[0].options());
    if (!at::cudnn_is_acceptable(probe)) return;
    static const std::map<std::string, int64_t> kMode = {
        {"rnn_relu", 0}, {"rnn_tanh", 1}, {"lstm", 2}, {"gru", 3}};  // cudnnRNNMode_t
    try {
      at::NoGradGuard no_grad;
      at::_cudnn_rnn_flatten_weight(weights_, /*weight_stride0=*/4, input_, kMode.at(cell_),
                                    hidden_, /*proj_size=*/0, layers_, /*batch_first=*/false,
                                    bidirectional_);
    } catch (const c10::Error&) {
      // Not fatal: the fused op then copies the weights into cuDNN's layout each call.
    }
  }

  // The independent implementation: an explicit loop over layers, directions and timesteps with
  // at::matmul and PyTorch's gate formulas (LSTM gates i, f, g, o; GRU gates r, z, n with
  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn))). Differentiable, for the fp64 gradients.
  at::Tensor reference(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                       const std::vector<at::Tensor>& w) const {
    at::Tensor layer_in = x;
    for (int64_t l = 0; l < layers_; ++l) {
      std::vector<at::Tensor> outs;
      for (int d = 0; d < directions(); ++d) {
        int64_t index = l * directions() + d;
        const at::Tensor& w_ih = w[4 * index];
        const at::Tensor& w_hh = w[4 * index + 1];
        const at::Tensor& b_ih = w[4 * index + 2];
        const at::Tensor& b_hh = w[4 * index + 3];
        at::Tensor h = h0[index];
        at::Tensor c = c0.defined() ? c0[index] : at::Tensor();
        std::vector<at::Tensor> sequence(static_cast<size_t>(timesteps_));
        for (int64_t s = 0; s < timesteps_; ++s) {
          int64_t t = d == 0 ? s : timesteps_ - 1 - s;
          at::Tensor gi = at::matmul(layer_in[t], w_ih.t()) + b_ih;
          at::Tensor gh = at::matmul(h, w_hh.t()) + b_hh;
          if (cell_ == "rnn_tanh") {
            h = at::tanh(gi + gh);
          } else if (cell_ == "rnn_relu") {
            h = at::relu(gi + gh);
          } else if (cell_ == "lstm") {
            auto g = (gi + gh).chunk(4, 1);
            at::Tensor i = at::sigmoid(g[0]), f = at::sigmoid(g[1]);
            at::Tensor cand = at::tanh(g[2]), o = at::sigmoid(g[3]);
            c = f * c + i * cand;
            h = o * at::tanh(c);
          } else {
            auto a = gi.chunk(3, 1), b = gh.chunk(3, 1);
            at::Tensor r = at::sigmoid(a[0] + b[0]), z = at::sigmoid(a[1] + b[1]);
            at::Tensor n = at::tanh(a[2] + r * b[2]);
            h = (1 - z) * n + z * h;
          }
          sequence[static_cast<size_t>(t)] = h;
        }
        outs.push_back(at::stack(sequence));
      }
      layer_in = outs.size() == 1 ? outs[0] : at::cat(outs, 2);
    }
    return layer_in;
  }

  std::string cell_;
  int64_t input_, hidden_, batch_, timesteps_, layers_;
  bool bidirectional_, backward_;
  DType dtype_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<at::Tensor> weights_, leaves_, grads_;
  at::Tensor x_, h0_, c0_, output_, grad_output_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Rnn);

}  // namespace dlbench
