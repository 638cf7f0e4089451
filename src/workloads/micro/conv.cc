// micro/conv: 2-D and 3-D convolution, forward, backward-data and backward-weight, in the style
// of DeepBench's conv kernel (shapes from real networks) and HPC AI500 CosmoFlow's 3-D convs.
//
// Shapes (dims=2 has d = t = 1 and no depth axis):
//   input  n x c x [d x] h x w,  filter k x (c/groups) x [t x] r x s,  output n x k x [od x] oh x
//   ow o = floor((i + 2 pad - dilation (f - 1) - 1) / stride) + 1 per spatial dimension.
// Work per step (the same for every pass, as DeepBench counts it):
//   FLOPs = 2 n k (od oh ow) (c / groups) (t r s)
//   bytes = three tensors once each x element size:
//     fwd:        input + filter + output
//     bwd_data:   grad_output + filter + grad_input
//     bwd_weight: input + grad_output + grad_filter
//   samples = n ("images"; a 3-D sample, e.g. a CosmoFlow volume, counts as one image).
// No bias. See docs/workloads/conv.md.
#include <ATen/ATen.h>
#include <fmt/core.h>

#include <array>
#include <cmath>
#include <functional>
#include <tuple>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

std::string join_dims(const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values) parts.push_back(std::to_string(v));
  return join(parts, " x ");
}

double product(const std::vector<int64_t>& values) {
  double p = 1;
  for (int64_t v : values) p *= static_cast<double>(v);
  return p;
}

class Conv : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/conv";
    info.category = "micro";
    info.description =
        "2-D/3-D convolution forward, backward-data or backward-weight (DeepBench conv, "
        "HPC AI500 CosmoFlow 3-D)";
    info.params = {
        ParamSpec::choice("dims", "2", {"2", "3"}, "spatial dimensions: 2 (images) or 3 (volumes)"),
        ParamSpec::integer("n", 8, "batch size", 1),
        ParamSpec::integer("c", 64, "input channels", 1),
        ParamSpec::integer("d", 1, "input depth (dims=3 only; must be 1 when dims=2)", 1),
        ParamSpec::integer("h", 56, "input height", 1),
        ParamSpec::integer("w", 56, "input width", 1),
        ParamSpec::integer("k", 64, "output channels (filters)", 1),
        ParamSpec::integer("t", 1, "filter depth (dims=3 only; must be 1 when dims=2)", 1),
        ParamSpec::integer("r", 3, "filter height", 1),
        ParamSpec::integer("s", 3, "filter width", 1),
        ParamSpec::tuple("stride", "1", "stride: N, HxW or DxHxW", 1),
        ParamSpec::tuple("pad", "1", "zero padding on each side: N, HxW or DxHxW", 0),
        ParamSpec::tuple("dilation", "1", "filter dilation: N, HxW or DxHxW", 1),
        ParamSpec::integer("groups", 1,
                           "groups (c and k must be divisible by it; c = groups: "
                           "depthwise)",
                           1),
        ParamSpec::choice("layout", "nchw", {"nchw", "nhwc"},
                          "memory format of input, filter and output: nhwc = channels-last "
                          "(ndhwc for dims=3)"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd_data", "bwd_weight"},
                          "fwd: output; bwd_data: grad of the input; bwd_weight: grad of the "
                          "filter"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"}, "element type"),
    };
    return info;
  }

  explicit Conv(const Problem& problem)
      : Workload(problem),
        dims_(problem.get_int("dims")),
        n_(problem.get_int("n")),
        c_(problem.get_int("c")),
        k_(problem.get_int("k")),
        groups_(problem.get_int("groups")),
        nhwc_(problem.get("layout") == "nhwc"),
        pass_(problem.get("pass")),
        dtype_(dtype_named(problem.get("dtype"))) {
    const size_t dims = static_cast<size_t>(dims_);
    int64_t d = problem.get_int("d"), t = problem.get_int("t");
    if (dims_ == 2 && (d != 1 || t != 1)) {
      throw Error(
          fmt::format("micro/conv: d={} t={} need dims=3 (with dims=2 both must be 1)", d, t));
    }
    auto tuple = [&](const char* name) {
      try {
        return parse_tuple(problem.get(name), dims);
      } catch (const Error& e) {
        throw Error(std::string("micro/conv: parameter '") + name + "': " + e.what());
      }
    };
    stride_ = tuple("stride");
    pad_ = tuple("pad");
    dilation_ = tuple("dilation");
    in_ = dims_ == 3 ? std::vector<int64_t>{d, problem.get_int("h"), problem.get_int("w")}
                     : std::vector<int64_t>{problem.get_int("h"), problem.get_int("w")};
    filter_ = dims_ == 3 ? std::vector<int64_t>{t, problem.get_int("r"), problem.get_int("s")}
                         : std::vector<int64_t>{problem.get_int("r"), problem.get_int("s")};
    if (c_ % groups_ != 0 || k_ % groups_ != 0) {
      throw Error(fmt::format("micro/conv: c={} and k={} must both be divisible by groups={}", c_,
                              k_, groups_));
    }
    static const char* kAxis[] = {"d", "h", "w"};
    for (size_t i = 0; i < dims; ++i) {
      int64_t span = dilation_[i] * (filter_[i] - 1) + 1;
      int64_t o = (in_[i] + 2 * pad_[i] - span) / stride_[i] + 1;
      if (in_[i] + 2 * pad_[i] < span) o = 0;  // C++ division truncates towards zero
      if (o < 1) {
        const char* axis = kAxis[i + 3 - dims];
        throw Error(fmt::format(
            "micro/conv: the dilated filter ({}) is larger than the padded input ({}) along "
            "{}: output size {} would be < 1; enlarge the input or pad, or shrink the filter",
            span, in_[i] + 2 * pad_[i], axis, axis));
      }
      out_.push_back(o);
    }
  }

  WorkCounts work() const override {
    WorkCounts work;
    double n = static_cast<double>(n_), k = static_cast<double>(k_);
    double c_per_group = static_cast<double>(c_ / groups_);
    work.flops = 2.0 * n * k * product(out_) * c_per_group * product(filter_);
    // Every pass touches three tensors once: two read, one written.
    double input = n * static_cast<double>(c_) * product(in_);
    double filter = k * c_per_group * product(filter_);
    double output = n * k * product(out_);
    work.bytes = (input + filter + output) * dtype_bytes(dtype_);
    work.samples = n;
    work.sample_unit = "images";
    work.dtype = dtype_name(dtype_);
    work.primary = "flops";
    return work;
  }

  Description describe() const override {
    Description d;
    std::string layout = nhwc_ ? (dims_ == 3 ? "ndhwc (channels-last)" : "nhwc (channels-last)")
                               : (dims_ == 3 ? "ncdhw" : "nchw");
    const char* what = pass_ == "fwd"        ? "forward"
                       : pass_ == "bwd_data" ? "backward-data (grad of the input)"
                                             : "backward-weight (grad of the filter)";
    d.summary = fmt::format("{}-D convolution {}: [{}] * [{}] -> [{}], {}, {}", dims_, what,
                            join_dims(input_sizes()), join_dims(weight_sizes()),
                            join_dims(output_sizes()), layout, dtype_name(dtype_));
    std::string bytes_formula = pass_ == "fwd" ? "(input + filter + output elements) x element size"
                                : pass_ == "bwd_data"
                                    ? "(grad_output + filter + grad_input elements) x element size"
                                    : "(input + grad_output + grad_filter elements) x element size";
    d.facts = {
        {"input", join_dims(input_sizes())},
        {"filter", join_dims(weight_sizes())},
        {"output", join_dims(output_sizes())},
        {"stride / pad / dilation / groups",
         fmt::format("{} / {} / {} / {}", join_dims(stride_), join_dims(pad_), join_dims(dilation_),
                     groups_)},
        {"FLOP formula",
         "2 n k (output spatial product) (c / groups) (filter spatial product), "
         "the same for every pass"},
        {"bytes formula", bytes_formula},
        {"algorithm",
         std::string("backend chosen by LibTorch (at::convolution / at::convolution_backward); "
                     "oneDNN (mkldnn) compiled in: ") +
             (at::hasMKLDNN() ? "yes" : "no")},
        {"check", fmt::format("every element against an fp64 sum over filter taps (independent "
                              "of at::convolution); tolerance {:g}",
                              tolerance())}};
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    previous_tf32_ = at::globalContext().allowTF32CuDNN();
    // fp32 means fp32: cuDNN would otherwise use TF32 tensor cores (LibTorch's default).
    at::globalContext().setAllowTF32CuDNN(false);
    restore_tf32_ = true;
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    require_support(
        fmt::format("a {}-D {} {} convolution ({}) on {}", dims_, dtype_name(dtype_), pass_,
                    nhwc_ ? "channels-last" : "contiguous", context.device.name()),
        [&] { probe(options); });
    at::MemoryFormat format = memory_format();
    input_ = at::randn(input_sizes(), options).contiguous(format);
    weight_ = at::randn(weight_sizes(), options).contiguous(format);
    if (pass_ != "fwd") grad_output_ = at::randn(output_sizes(), options).contiguous(format);
  }

  void step() override {
    // LibTorch has no true out= variant of convolution (convolution.out computes into a new
    // tensor and copies), so each step lets LibTorch allocate its result; dropping the previous
    // one first lets the allocator hand the same block back.
    result_ = at::Tensor();
    result_ = run(input_, weight_, grad_output_);
  }

  CheckOutcome check() override {
    // Poison the last result and drop it: step() allocates the same size, which the allocator
    // normally serves from the just-freed (poisoned) block; a fresh block is garbage or zeros,
    // which fail too. Then compare every element with a reference built tap by tap in fp64.
    if (!result_.defined()) step();
    poison(result_);
    step();
    at::Tensor x = input_.to(at::kDouble).contiguous();
    at::Tensor wt = weight_.to(at::kDouble).contiguous();
    at::Tensor reference;
    std::string what;
    if (pass_ == "fwd") {
      reference = reference_forward(x, wt);
      what = "output";
    } else if (pass_ == "bwd_data") {
      reference = reference_backward_data(grad_output_.to(at::kDouble).contiguous(), wt);
      what = "grad_input";
    } else {
      reference = reference_backward_weight(x, grad_output_.to(at::kDouble).contiguous());
      what = "grad_filter";
    }
    return check_close(result_, reference, tolerance(), what);
  }

  void teardown() override {
    input_ = weight_ = grad_output_ = result_ = at::Tensor();
    if (restore_tf32_) at::globalContext().setAllowTF32CuDNN(previous_tf32_);
    restore_tf32_ = false;
  }

 private:
  std::vector<int64_t> input_sizes() const {
    std::vector<int64_t> sizes{n_, c_};
    sizes.insert(sizes.end(), in_.begin(), in_.end());
    return sizes;
  }
  std::vector<int64_t> weight_sizes() const {
    std::vector<int64_t> sizes{k_, c_ / groups_};
    sizes.insert(sizes.end(), filter_.begin(), filter_.end());
    return sizes;
  }
  std::vector<int64_t> output_sizes() const {
    std::vector<int64_t> sizes{n_, k_};
    sizes.insert(sizes.end(), out_.begin(), out_.end());
    return sizes;
  }
  at::MemoryFormat memory_format() const {
    if (!nhwc_) return at::MemoryFormat::Contiguous;
    return dims_ == 3 ? at::MemoryFormat::ChannelsLast3d : at::MemoryFormat::ChannelsLast;
  }

  /// The timed operation: the output (fwd), grad_input (bwd_data) or grad_filter (bwd_weight).
  at::Tensor run(const at::Tensor& input, const at::Tensor& weight,
                 const at::Tensor& grad_output) const {
    std::vector<int64_t> output_padding(static_cast<size_t>(dims_), 0);
    if (pass_ == "fwd") {
      return at::convolution(input, weight, c10::nullopt, stride_, pad_, dilation_,
                             /*transposed=*/false, output_padding, groups_);
    }
    // output_mask selects the gradients to compute, so only the requested one is timed.
    bool data = pass_ == "bwd_data";
    auto grads = at::convolution_backward(grad_output, input, weight, /*bias_sizes=*/c10::nullopt,
                                          stride_, pad_, dilation_, /*transposed=*/false,
                                          output_padding, groups_, {data, !data, false});
    return data ? std::get<0>(grads) : std::get<1>(grads);
  }

  /// The same pass on a tiny problem of the same kind (dims, groups, dilation, layout, dtype),
  /// so a dtype the library lacks becomes SKIPPED before the big allocation.
  void probe(const at::TensorOptions& options) const {
    std::vector<int64_t> x{groups_, groups_}, w{groups_, 1}, o{groups_, groups_};
    for (size_t i = 0; i < static_cast<size_t>(dims_); ++i) {
      int64_t span = dilation_[i] * (filter_[i] - 1) + 1;
      x.push_back(span + stride_[i]);
      w.push_back(filter_[i]);
      o.push_back((span + stride_[i] + 2 * pad_[i] - span) / stride_[i] + 1);
    }
    at::MemoryFormat format = memory_format();
    at::Tensor input = at::ones(x, options).contiguous(format);
    at::Tensor weight = at::ones(w, options).contiguous(format);
    at::Tensor grad_output =
        pass_ == "fwd" ? at::Tensor() : at::ones(o, options).contiguous(format);
    run(input, weight, grad_output);
  }

  /// A strided view of padded input `x` (n, c, padded...) holding, for filter tap `tap`, the
  /// input element each output position multiplies by that tap: shape (n, c, out...).
  at::Tensor tap_view(const at::Tensor& padded, const std::vector<int64_t>& tap) const {
    at::Tensor view = padded;
    for (size_t i = 0; i < tap.size(); ++i) {
      int64_t start = tap[i] * dilation_[i];
      view = view.slice(static_cast<int64_t>(i) + 2, start, start + stride_[i] * (out_[i] - 1) + 1,
                        stride_[i]);
    }
    return view;
  }

  /// Calls `f(tap)` for every filter tap (t x r x s positions).
  void for_each_tap(const std::function<void(const std::vector<int64_t>&)>& f) const {
    std::vector<int64_t> tap(filter_.size(), 0);
    while (true) {
      f(tap);
      size_t i = tap.size();
      while (i > 0) {
        --i;
        if (++tap[i] < filter_[i]) break;
        tap[i] = 0;
        if (i == 0) return;
      }
    }
  }

  /// weight[:, :, tap] as (groups, k/groups, c/groups).
  at::Tensor weight_tap(const at::Tensor& weight, const std::vector<int64_t>& tap) const {
    at::Tensor wt = weight;
    for (int64_t index : tap) wt = wt.select(2, index);
    return wt.reshape({groups_, k_ / groups_, c_ / groups_});
  }

  at::Tensor pad_input(const at::Tensor& x) const {
    std::vector<int64_t> pads;  // last dimension first, (before, after) each
    for (size_t i = pad_.size(); i-- > 0;) {
      pads.push_back(pad_[i]);
      pads.push_back(pad_[i]);
    }
    return at::constant_pad_nd(x, pads, 0);
  }

  // The references: convolution written as a sum over filter taps of per-group matrix
  // products, in fp64 from the same (already rounded, upcast) tensors. None of them calls a
  // convolution kernel, so they are independent of the one being timed in every dtype.
  at::Tensor reference_forward(const at::Tensor& x, const at::Tensor& weight) const {
    int64_t p = static_cast<int64_t>(product(out_)), cg = c_ / groups_, kg = k_ / groups_;
    at::Tensor padded = pad_input(x);
    at::Tensor out = at::zeros({n_, groups_, kg, p}, x.options());
    for_each_tap([&](const std::vector<int64_t>& tap) {
      at::Tensor xs = tap_view(padded, tap).reshape({n_, groups_, cg, p});
      out.add_(at::einsum("gkc,ngcp->ngkp", {weight_tap(weight, tap), xs}));
    });
    return out.reshape(output_sizes());
  }

  at::Tensor reference_backward_data(const at::Tensor& grad_output,
                                     const at::Tensor& weight) const {
    int64_t p = static_cast<int64_t>(product(out_)), kg = k_ / groups_;
    std::vector<int64_t> padded_sizes{n_, c_};
    for (size_t i = 0; i < in_.size(); ++i) padded_sizes.push_back(in_[i] + 2 * pad_[i]);
    at::Tensor padded = at::zeros(padded_sizes, grad_output.options());
    at::Tensor go = grad_output.reshape({n_, groups_, kg, p});
    for_each_tap([&](const std::vector<int64_t>& tap) {
      at::Tensor contribution = at::einsum("gkc,ngkp->ngcp", {weight_tap(weight, tap), go});
      tap_view(padded, tap).add_(contribution.reshape(output_sizes_with_channels(c_)));
    });
    at::Tensor grad_input = padded;
    for (size_t i = 0; i < in_.size(); ++i) {
      grad_input = grad_input.slice(static_cast<int64_t>(i) + 2, pad_[i], pad_[i] + in_[i]);
    }
    return grad_input;
  }

  at::Tensor reference_backward_weight(const at::Tensor& x, const at::Tensor& grad_output) const {
    int64_t p = static_cast<int64_t>(product(out_)), cg = c_ / groups_, kg = k_ / groups_;
    at::Tensor padded = pad_input(x);
    at::Tensor go = grad_output.reshape({n_, groups_, kg, p});
    at::Tensor grad_weight = at::zeros(weight_sizes(), x.options());
    for_each_tap([&](const std::vector<int64_t>& tap) {
      at::Tensor xs = tap_view(padded, tap).reshape({n_, groups_, cg, p});
      at::Tensor slot = grad_weight;
      for (int64_t index : tap) slot = slot.select(2, index);
      slot.copy_(at::einsum("ngkp,ngcp->gkc", {go, xs}).reshape({k_, cg}));
    });
    return grad_weight;
  }

  std::vector<int64_t> output_sizes_with_channels(int64_t channels) const {
    std::vector<int64_t> sizes{n_, channels};
    sizes.insert(sizes.end(), out_.begin(), out_.end());
    return sizes;
  }

  /// default_tolerance for the longest sum behind one result element: c/groups x filter taps
  /// (fwd), at most k/groups x filter taps (bwd_data), n x output positions (bwd_weight).
  double tolerance() const {
    double taps = product(filter_);
    double reduction = pass_ == "fwd" ? static_cast<double>(c_ / groups_) * taps
                       : pass_ == "bwd_data"
                           ? static_cast<double>(std::max(c_, k_) / groups_) * taps
                           : static_cast<double>(n_) * product(out_);
    return default_tolerance(dtype_, reduction);
  }

  int64_t dims_, n_, c_, k_, groups_;
  bool nhwc_;
  std::string pass_;
  DType dtype_;
  std::vector<int64_t> in_, filter_, out_, stride_, pad_, dilation_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor input_, weight_, grad_output_, result_;
  bool previous_tf32_ = true, restore_tf32_ = false;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Conv);

}  // namespace dlbench
