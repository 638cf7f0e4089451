// micro/pool: 2-D max and average pooling (the pooling layers of AlexNet, VGG, GoogLeNet and
// ResNet; one of AI Matrix's "memory operations"), forward or backward, NCHW or NHWC.
//
// Output size (PyTorch, floor mode): oh = floor((h + 2 ph - kh) / sh) + 1, likewise ow.
// With P_in = n c h w, P_out = n c oh ow, K = kh kw and e = element size, one step counts
//   fwd:      FLOPs = K P_out (K comparisons or adds per output element; padded positions count,
//             the average's one division is counted as one of the K)
//             bytes = (P_in + P_out) e (input read once, output written once)
//   bwd max:  FLOPs = P_out (one add of each grad_out element at its argmax)
//             bytes = P_out e + 8 P_out + P_in e (grad_out and the int64 argmax indices read,
//             grad_in written)
//   bwd avg:  FLOPs = (K + 1) P_out (grad_out / K once, then K adds into grad_in)
//             bytes = (P_out + P_in) e
// See docs/workloads/pool.md.
#include <ATen/ATen.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

/// Bit-pattern facts of a floating type: the patterns of 1.0, of the smallest and largest
/// positive normal values, and how many patterns one binade holds. Consecutive patterns between
/// lo and hi are consecutive (strictly increasing) positive values.
struct FloatBits {
  int64_t one, lo, hi, per_binade;
  at::ScalarType int_type;
};

FloatBits float_bits(at::ScalarType type) {
  switch (type) {
    case at::kDouble:
      return {0x3FF0000000000000LL, 0x0010000000000000LL, 0x7FEFFFFFFFFFFFFFLL, int64_t{1} << 52,
              at::kLong};
    case at::kFloat:
      return {0x3F800000, 0x00800000, 0x7F7FFFFF, int64_t{1} << 23, at::kInt};
    case at::kBFloat16:
      return {0x3F80, 0x0080, 0x7F7F, int64_t{1} << 7, at::kShort};
    case at::kHalf:
      return {0x3C00, 0x0400, 0x7BFF, int64_t{1} << 10, at::kShort};
    default:
      throw Error("micro/pool: no bit pattern table for this dtype");
  }
}

class Pool : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/pool";
    info.category = "micro";
    info.description =
        "2-D max / average pooling, forward or backward (CNN pooling layers; AI Matrix memory "
        "operations)";
    info.params = {
        ParamSpec::integer("n", 8, "batch size", 1),
        ParamSpec::integer("c", 64, "channels", 1),
        ParamSpec::integer("h", 112, "input height", 1),
        ParamSpec::integer("w", 112, "input width", 1),
        ParamSpec::tuple("kernel", "3", "window, K or KHxKW (global average pooling: kernel = HxW)",
                         1),
        ParamSpec::tuple("stride", "2", "stride, S or SHxSW", 1),
        ParamSpec::tuple("pad", "1",
                         "implicit padding on each side, P or PHxPW; at most kernel/2 (PyTorch's "
                         "rule); -inf for max, zeros counted in the average for avg",
                         0),
        ParamSpec::choice("type", "max", {"max", "avg"},
                          "max pooling, or average pooling with count_include_pad=true"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: the pooling; bwd: the gradient w.r.t. the input (autograd)"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"}, "element type"),
        ParamSpec::choice("layout", "nchw", {"nchw", "nhwc"},
                          "memory layout of input and output (nhwc = channels-last)"),
    };
    return info;
  }

  explicit Pool(const Problem& problem)
      : Workload(problem),
        n_(problem.get_int("n")),
        c_(problem.get_int("c")),
        h_(problem.get_int("h")),
        w_(problem.get_int("w")),
        kernel_(parse_tuple(problem.get("kernel"), 2)),
        stride_(parse_tuple(problem.get("stride"), 2)),
        pad_(parse_tuple(problem.get("pad"), 2)),
        max_(problem.get("type") == "max"),
        backward_(problem.get("pass") == "bwd"),
        nhwc_(problem.get("layout") == "nhwc"),
        dtype_(dtype_named(problem.get("dtype"))) {
    const int64_t size[2] = {h_, w_};
    const char* axis[2] = {"height", "width"};
    for (int i = 0; i < 2; ++i) {
      if (2 * pad_[i] > kernel_[i]) {
        throw Error(
            fmt::format("micro/pool: pad {} exceeds half the kernel {} along the {} "
                        "(PyTorch requires pad <= kernel / 2)",
                        pad_[i], kernel_[i], axis[i]));
      }
      int64_t span = size[i] + 2 * pad_[i] - kernel_[i];
      if (span < 0) {
        throw Error(
            fmt::format("micro/pool: kernel {} is larger than the padded {} {}: the "
                        "output would be empty",
                        kernel_[i], axis[i], size[i] + 2 * pad_[i]));
      }
      out_[i] = span / stride_[i] + 1;
    }
  }

  WorkCounts work() const override {
    WorkCounts work;
    double e = dtype_bytes(dtype_);
    double in = input_elements(), out = output_elements(), k = window();
    if (!backward_) {
      work.flops = k * out;
      work.bytes = (in + out) * e;
    } else if (max_) {
      work.flops = out;
      work.bytes = out * e + 8 * out + in * e;
    } else {
      work.flops = (k + 1) * out;
      work.bytes = (out + in) * e;
    }
    work.samples = static_cast<double>(n_);
    work.sample_unit = "images";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format(
        "{} pooling {}, {}: [{}, {}, {}, {}] -> [{}, {}, {}, {}], kernel {}x{} "
        "stride {}x{} pad {}x{}, {}",
        max_ ? "max" : "average", backward_ ? "backward" : "forward", nhwc_ ? "NHWC" : "NCHW", n_,
        c_, h_, w_, n_, c_, out_[0], out_[1], kernel_[0], kernel_[1], stride_[0], stride_[1],
        pad_[0], pad_[1], dtype_name(dtype_));
    std::string flops = !backward_ ? "kh kw x n c oh ow (K per output element)"
                        : max_     ? "n c oh ow (one add per output element, at its argmax)"
                                   : "(kh kw + 1) x n c oh ow (one divide, K adds per output)";
    std::string bytes = !backward_ ? "(n c h w + n c oh ow) x element size (input + output)"
                        : max_     ? "n c oh ow x (element size + 8) + n c h w x element size "
                                     "(grad_out + int64 indices + grad_in)"
                                   : "(n c oh ow + n c h w) x element size (grad_out + grad_in)";
    d.facts = {
        {"output size", "floor((h + 2 pad - kernel) / stride) + 1 per axis"},
        {"FLOP formula", flops},
        {"bytes formula", bytes},
        {"check",
         fmt::format("{} against an independent fp64 pooling (padded input, strided "
                     "windows{}); tolerance {:g}",
                     backward_ ? "grad_in (fp64 autograd)" : "every output element",
                     max_ ? ", -inf padding" : ", zero padding, sum / (kh kw)", tolerance())},
    };
    if (max_) {
      d.facts.push_back({"inputs",
                         "values distinct within every window (no argmax ties), "
                         "random signs; see docs/workloads/pool.md"});
    }
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    auto format = nhwc_ ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    require_support(
        fmt::format("{} pooling ({}) in {} on {}", max_ ? "max" : "average", problem_.get("pass"),
                    dtype_name(dtype_), context.device.name()),
        [&] {
          // The smallest input the window fits (pad <= kernel / 2: one output).
          at::Tensor x = at::ones({1, 2, kernel_[0], kernel_[1]}, options).contiguous(format);
          x.requires_grad_(backward_);
          at::Tensor y = forward(x);
          if (backward_) {
            torch::autograd::grad({y}, {x}, {at::ones_like(y)});
          }
        });
    input_ = (max_ ? distinct_window_values(options) : at::randn({n_, c_, h_, w_}, options))
                 .contiguous(format);
    if (backward_) {
      input_.requires_grad_(true);
      output_ = forward(input_);
      grad_out_ = at::randn_like(output_);
    } else {
      output_ = at::empty({n_, c_, out_[0], out_[1]}, options.memory_format(format));
    }
  }

  void step() override {
    if (backward_) {
      grad_in_ = torch::autograd::grad({output_}, {input_}, {grad_out_}, /*retain_graph=*/true)[0];
    } else if (max_) {
      // LibTorch has no max_pool2d_out; the forward a network runs allocates its output.
      output_ = at::max_pool2d(input_, kernel_, stride_, pad_);
    } else {
      at::avg_pool2d_out(output_, input_, kernel_, stride_, pad_, /*ceil_mode=*/false,
                         /*count_include_pad=*/true);
    }
  }

  CheckOutcome check() override {
    at::Tensor& got = backward_ ? grad_in_ : output_;
    if (got.defined()) poison(got);
    step();
    at::Tensor x = input_.detach().to(at::kDouble);
    if (!backward_) {
      return check_close(output_, reference(x), tolerance(), "pooled output");
    }
    x.requires_grad_(true);
    at::Tensor y = reference(x);
    at::Tensor expected = torch::autograd::grad({y}, {x}, {grad_out_.to(at::kDouble)})[0];
    return check_close(grad_in_, expected, tolerance(), "grad_in");
  }

  void teardown() override { input_ = output_ = grad_out_ = grad_in_ = at::Tensor(); }

 private:
  double input_elements() const { return static_cast<double>(n_ * c_ * h_ * w_); }
  double output_elements() const { return static_cast<double>(n_ * c_ * out_[0] * out_[1]); }
  double window() const { return static_cast<double>(kernel_[0] * kernel_[1]); }
  // Each output (fwd) sums K inputs; each grad_in element (bwd) sums at most K grad_out terms.
  double tolerance() const { return default_tolerance(dtype_, window()); }

  at::Tensor forward(const at::Tensor& x) const {
    return max_ ? at::max_pool2d(x, kernel_, stride_, pad_)
                : at::avg_pool2d(x, kernel_, stride_, pad_, /*ceil_mode=*/false,
                                 /*count_include_pad=*/true);
  }

  /// The independent reference: pad explicitly (-inf for max, zeros for the average), take the
  /// kh x kw windows as a strided view (unfold) and reduce each with amax or sum / (kh kw).
  at::Tensor reference(const at::Tensor& x) const {
    double fill = max_ ? -std::numeric_limits<double>::infinity() : 0.0;
    at::Tensor padded = at::constant_pad_nd(x, {pad_[1], pad_[1], pad_[0], pad_[0]}, fill);
    at::Tensor windows = padded.unfold(2, kernel_[0], stride_[0]).unfold(3, kernel_[1], stride_[1]);
    return max_ ? at::amax(windows, {4, 5}) : windows.sum({4, 5}) / window();
  }

  /// Max-pool inputs whose values are distinct within every window, so the argmax (and with it
  /// the gradient) is unique in the dtype itself, even in bf16: each value is +-(a representable
  /// magnitude), the magnitudes being consecutive bit patterns spaced evenly over [0.5, 2) (or
  /// beyond, when more levels are needed than [0.5, 2) holds). When a whole (n, c) plane fits,
  /// every plane is a random permutation of h w distinct magnitudes; otherwise (bf16/fp16 planes
  /// beyond ~30k elements) position (i, j) takes level perm[(i mod kh) kw + (j mod kw)] of a
  /// random per-plane permutation of kh kw levels: any kh x kw window holds every residue class
  /// once, so its values are still distinct.
  at::Tensor distinct_window_values(const at::TensorOptions& options) const {
    FloatBits bits = float_bits(options.dtype().toScalarType());
    auto long_options = at::TensorOptions().dtype(at::kLong).device(device_);
    int64_t planes = n_ * c_, plane = h_ * w_, window_size = kernel_[0] * kernel_[1];
    int64_t capacity = bits.hi - bits.lo + 1;
    int64_t levels = plane <= capacity ? plane : window_size;
    if (levels > capacity) {
      throw Unsupported(
          fmt::format("micro/pool: {} holds too few distinct values for a {}-element "
                      "window without argmax ties",
                      dtype_name(dtype_), window_size));
    }
    int64_t spread = 2 * bits.per_binade;  // bit patterns in [0.5, 2)
    int64_t spacing = levels <= spread ? spread / levels : 1;
    int64_t base = levels <= spread
                       ? bits.one - bits.per_binade
                       : std::min(std::max(bits.one - levels / 2, bits.lo), bits.hi - levels + 1);
    at::Tensor rank =
        at::argsort(at::rand({planes, levels}, options.dtype(at::kFloat)), /*dim=*/int64_t{1});
    if (levels != plane) {
      at::Tensor rows = at::arange(h_, long_options).remainder(kernel_[0]) * kernel_[1];
      at::Tensor cols = at::arange(w_, long_options).remainder(kernel_[1]);
      at::Tensor cls = (rows.unsqueeze(1) + cols.unsqueeze(0)).reshape({-1});
      rank = rank.index_select(1, cls);
    }
    at::Tensor magnitude =
        (rank * spacing + base).to(bits.int_type).view(options.dtype().toScalarType());
    at::Tensor sign = at::where(at::rand({planes, plane}, options.dtype(at::kFloat)) < 0.5,
                                at::full({}, -1.0, options), at::full({}, 1.0, options));
    return (magnitude * sign).reshape({n_, c_, h_, w_});
  }

  int64_t n_, c_, h_, w_;
  std::vector<int64_t> kernel_, stride_, pad_;
  int64_t out_[2] = {0, 0};
  bool max_, backward_, nhwc_;
  DType dtype_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor input_, output_, grad_out_, grad_in_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Pool);

}  // namespace dlbench
