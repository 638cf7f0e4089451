// micro/attention: scaled dot-product attention, O = softmax(Q K^T / sqrt(d) [+ causal mask]) V,
// the core of every transformer layer. Q is [batch, heads, seq, head_dim]; K and V are
// [batch, heads, kv_seq, head_dim]. impl=auto runs at::scaled_dot_product_attention (LibTorch
// >= 2.0: FlashAttention / memory-efficient kernels on CUDA, a fused kernel on CPU), else the math
// path; impl=math always runs at::matmul + at::softmax with a materialised score matrix.
//
// FLOPs count the two GEMMs over the (query, key) pairs that are not masked: with P pairs,
//   fwd = 4 batch heads head_dim P      (Q K^T and P V, 2 FLOPs per multiply-add)
//   bwd = 2.5 x fwd = 10 batch heads head_dim P   (FlashAttention's convention: 5 GEMMs, dV, dP,
//         dQ, dK and the recomputed S, against 2 forward GEMMs)
// P = seq kv_seq without a mask. causal (top-left aligned, query i sees keys j <= i, as
// at::scaled_dot_product_attention's is_causal): P = sum_i min(i + 1, kv_seq); for seq == kv_seq
// that is seq (seq + 1) / 2, the fraction (seq + 1) / (2 seq) of the square. The math path
// computes the full square anyway (the count is of useful work). Softmax, scaling and masking are
// not counted.
// Bytes (minimum traffic, element size e): fwd e batch heads head_dim (2 seq + 2 kv_seq): Q, K, V
// read, O written; bwd e batch heads head_dim (4 seq + 4 kv_seq): Q, K, V, O, dO read, dQ, dK, dV
// written (the score matrix and the softmax statistics are not counted).
// Samples = batch (sequences). See docs/workloads/attention.md.
#include <ATen/ATen.h>
#include <fmt/core.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

// True when this build has at::scaled_dot_product_attention.
constexpr bool kHaveSdpa = TORCH_VERSION_MAJOR >= 2;

class Attention : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/attention";
    info.category = "micro";
    info.description =
        "scaled dot-product attention softmax(Q K^T / sqrt(d)) V of transformers (fused SDPA or "
        "matmul + softmax)";
    info.params = {
        ParamSpec::integer("batch", 8, "sequences per step", 1),
        ParamSpec::integer("heads", 12, "attention heads", 1),
        ParamSpec::integer("seq", 128, "query length", 1),
        ParamSpec::integer("kv_seq", 0, "key/value length (0 = same as seq)", 0),
        ParamSpec::integer("head_dim", 64, "features per head (d)", 1),
        ParamSpec::boolean("causal", false,
                           "causal mask, top-left aligned: query i sees keys j <= i"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"}, "fwd: O; bwd: dQ, dK, dV from dO"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16"}, "element type"),
        ParamSpec::choice("impl", "auto", {"auto", "math"},
                          "auto: at::scaled_dot_product_attention when LibTorch >= 2.0, else "
                          "math; math: at::matmul + at::softmax"),
    };
    return info;
  }

  explicit Attention(const Problem& problem)
      : Workload(problem),
        batch_(problem.get_int("batch")),
        heads_(problem.get_int("heads")),
        seq_(problem.get_int("seq")),
        kv_seq_(problem.get_int("kv_seq") == 0 ? problem.get_int("seq")
                                               : problem.get_int("kv_seq")),
        head_dim_(problem.get_int("head_dim")),
        causal_(problem.get_bool("causal")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))),
        fused_(problem.get("impl") == "auto" && kHaveSdpa) {}

  WorkCounts work() const override {
    WorkCounts work;
    double bh = static_cast<double>(batch_ * heads_), d = static_cast<double>(head_dim_);
    double s = static_cast<double>(seq_), kv = static_cast<double>(kv_seq_);
    work.flops = (backward_ ? 10 : 4) * bh * d * pairs();
    work.bytes = (backward_ ? 2 : 1) * bh * d * (2 * s + 2 * kv) * dtype_bytes(dtype_);
    work.samples = static_cast<double>(batch_);
    work.sample_unit = "sequences";
    work.dtype = dtype_name(dtype_);
    work.primary = "flops";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format("{}{} attention, {} x {} heads, {} queries x {} keys, d={} in {}",
                            causal_ ? "causal " : "", backward_ ? "backward of" : "forward", batch_,
                            heads_, seq_, kv_seq_, head_dim_, dtype_name(dtype_));
    d.facts = {
        {"implementation", implementation()},
        {"unmasked pairs", fmt::format("{:.0f} of {:.0f} per head", pairs(),
                                       static_cast<double>(seq_) * static_cast<double>(kv_seq_))},
        {"FLOP formula",
         std::string(backward_ ? "10" : "4") +
             " batch heads head_dim P, P = seq kv_seq (causal: sum_i min(i+1, kv_seq)); the two "
             "GEMMs only" +
             (backward_ ? ", bwd = 2.5 x fwd (5 GEMMs vs 2, FlashAttention's convention)" : "")},
        {"bytes formula", backward_ ? "(4 seq + 4 kv_seq) batch heads head_dim x element size "
                                      "(Q, K, V, O, dO read; dQ, dK, dV written)"
                                    : "(2 seq + 2 kv_seq) batch heads head_dim x element size "
                                      "(Q, K, V read, O written)"},
        {"check", fmt::format("{} against an fp64 math path (matmul + softmax) on the same inputs; "
                              "tolerance {:g}",
                              backward_ ? "dQ, dK, dV (fp64 autograd)" : "O", tolerance())},
    };
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    require_support(std::string(backward_ ? "attention backward" : "attention") + " (" +
                        (fused_ ? "scaled_dot_product_attention" : "math") + ") in " +
                        dtype_name(dtype_) + " on " + context.device.name(),
                    [&] {
                      at::AutoGradMode grad_mode(backward_);
                      at::Tensor q = at::ones({1, 1, 3, 4}, options).requires_grad_(backward_);
                      at::Tensor kv = at::ones({1, 1, 3, 4}, options);
                      at::Tensor mask = at::ones({3, 3}, options.dtype(at::kBool)).triu(1);
                      at::Tensor o = attend(q, kv, kv, causal_ ? mask : at::Tensor(), fused_);
                      if (backward_) torch::autograd::grad({o}, {q}, {at::ones_like(o)});
                    });
    q_ = at::randn({batch_, heads_, seq_, head_dim_}, options);
    k_ = at::randn({batch_, heads_, kv_seq_, head_dim_}, options);
    v_ = at::randn({batch_, heads_, kv_seq_, head_dim_}, options);
    if (causal_) mask_ = at::ones({seq_, kv_seq_}, options.dtype(at::kBool)).triu(1);
    if (backward_) {
      // The forward runs once here, recording the graph; the step is the backward alone.
      at::AutoGradMode grad_mode(true);
      q_.requires_grad_(true);
      k_.requires_grad_(true);
      v_.requires_grad_(true);
      out_ = attend(q_, k_, v_, mask_, fused_);
      grad_out_ = at::randn(out_.sizes(), options);
    } else if (!fused_) {
      scores_ = at::empty({batch_, heads_, seq_, kv_seq_}, options);
      probs_ = at::empty_like(scores_);
      out_ = at::empty({batch_, heads_, seq_, head_dim_}, options);
    }
  }

  void step() override {
    if (backward_) {
      grads_ = torch::autograd::grad({out_}, {q_, k_, v_}, {grad_out_}, /*retain_graph=*/true);
    } else if (fused_) {
      at::NoGradGuard no_grad;
      out_ = attend(q_, k_, v_, mask_, true);
    } else {
      // The math path into preallocated buffers (what attend() computes, without allocating S).
      at::NoGradGuard no_grad;
      at::matmul_out(scores_, q_, k_.transpose(-2, -1));
      scores_.mul_(scale());
      if (causal_) scores_.masked_fill_(mask_, -std::numeric_limits<double>::infinity());
      at::softmax_out(probs_, scores_, -1);
      at::matmul_out(out_, probs_, v_);
    }
  }

  CheckOutcome check() override {
    auto up = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
    at::Tensor q64 = up(q_), k64 = up(k_), v64 = up(v_);
    CheckOutcome outcome;
    if (!backward_) {
      poison(out_);
      step();
      at::NoGradGuard no_grad;
      outcome = check_close(out_, attend(q64, k64, v64, mask_, false), tolerance(), "O");
    } else {
      for (auto& g : grads_) poison(g);
      step();
      at::AutoGradMode grad_mode(true);
      q64.requires_grad_(true);
      k64.requires_grad_(true);
      v64.requires_grad_(true);
      at::Tensor o64 = attend(q64, k64, v64, mask_, false);
      auto expected = torch::autograd::grad({o64}, {q64, k64, v64}, {up(grad_out_)});
      // Each gradient against its own bound; the result is the worst (largest error/tolerance).
      const char* names[] = {"dQ", "dK", "dV"};
      double worst_ratio = -1;
      for (size_t i = 0; i < 3; ++i) {
        CheckOutcome one = check_close(grads_[i], expected[i], tolerance(), names[i]);
        double ratio = std::isnan(one.error) ? std::numeric_limits<double>::infinity()
                                             : one.error / std::max(one.tolerance, 1e-300);
        if (ratio > worst_ratio) {
          outcome = one;
          worst_ratio = ratio;
        }
      }
      outcome.detail += "; worst of dQ, dK, dV";
    }
    outcome.detail += "; implementation: " + implementation();
    return outcome;
  }

  void teardown() override {
    q_ = k_ = v_ = mask_ = out_ = grad_out_ = scores_ = probs_ = at::Tensor();
    grads_.clear();
  }

 private:
  double scale() const { return 1.0 / std::sqrt(static_cast<double>(head_dim_)); }

  // Unmasked (query, key) pairs per (batch, head).
  double pairs() const {
    double s = static_cast<double>(seq_), kv = static_cast<double>(kv_seq_);
    if (!causal_) return s * kv;
    if (s <= kv) return s * (s + 1) / 2;       // row i sees i + 1 keys
    return kv * (kv + 1) / 2 + (s - kv) * kv;  // rows i >= kv see all kv keys
  }

  std::string implementation() const {
    if (fused_) return "at::scaled_dot_product_attention (LibTorch " TORCH_VERSION ")";
    return std::string("math: at::matmul + at::softmax, full score matrix") +
           (problem_.get("impl") == "auto" ? " (LibTorch " TORCH_VERSION " has no SDPA)" : "");
  }

  // The reduction behind one output element: kv_seq (P V) or head_dim (Q K^T) for O; the
  // gradients also sum over seq (dK = dS^T Q, dV = P^T dO).
  double tolerance() const {
    double reduction = static_cast<double>(std::max(kv_seq_, head_dim_));
    if (backward_) reduction = std::max(reduction, static_cast<double>(seq_));
    // default_tolerance covers the rounding of the output; attention in bf16/fp16 also rounds
    // the intermediates to the storage type (the scores S and the probabilities P before P V in
    // the math path, P before P V in the fused kernels; S, P, dP and dS in the backward), so the
    // low-precision bound is doubled. Measured on the test VM without the factor (math path,
    // bf16): up to 0.83 of the bound at seq 1024 to 4096 (bwd), 0.75 (fwd).
    double factor = dtype_ == DType::kFp32 ? 1 : 2;
    return factor * default_tolerance(dtype_, reduction);
  }

  // Attention through SDPA (fused) or the math path; differentiable. `mask` (bool, true =
  // masked) is given when causal.
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& mask, bool fused) const {
#if TORCH_VERSION_MAJOR >= 2
    if (fused) {
      return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                              /*is_causal=*/mask.defined());
    }
#else
    (void)fused;
#endif
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale();
    if (mask.defined()) scores = scores.masked_fill(mask, -std::numeric_limits<double>::infinity());
    return at::matmul(at::softmax(scores, -1), v);
  }

  int64_t batch_, heads_, seq_, kv_seq_, head_dim_;
  bool causal_, backward_;
  DType dtype_;
  bool fused_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor q_, k_, v_, mask_, out_, grad_out_, scores_, probs_;
  std::vector<at::Tensor> grads_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Attention);

}  // namespace dlbench
