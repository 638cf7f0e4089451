// micro/stream: the four STREAM kernels (copy, scale, add, triad) on device memory.
// Bytes are counted as STREAM counts them: each array element read or written once per step.
// See docs/workloads/stream.md.
#include <ATen/ATen.h>
#include <fmt/core.h>

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "nn/check.h"

namespace dlbench {
namespace {

constexpr double kScalar = 3.0;  // STREAM's scalar

class Stream : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/stream";
    info.category = "micro";
    info.description = "STREAM copy/scale/add/triad: sustainable memory bandwidth";
    info.params = {
        ParamSpec::integer("n", int64_t{1} << 25,
                           "elements per array (STREAM rule: each array >= 4x the last-level "
                           "cache)",
                           1),
        ParamSpec::choice("kernel", "triad", {"copy", "scale", "add", "triad", "h2d", "d2h", "d2d"},
                          "copy: c=a; scale: b=s*c; add: c=a+b; triad: a=b+s*c; h2d/d2h: "
                          "host<->device copy (accelerators); d2d: copy to the next GPU"),
        ParamSpec::boolean("pinned", true, "h2d/d2h: page-locked host memory (else pageable)"),
        ParamSpec::choice("dtype", "fp64", {"fp64", "fp32", "bf16", "fp16"},
                          "element type (STREAM uses fp64)"),
    };
    return info;
  }

  explicit Stream(const Problem& problem)
      : Workload(problem),
        n_(problem.get_int("n")),
        kernel_(problem.get("kernel")),
        pinned_(problem.get_bool("pinned")),
        dtype_(dtype_named(problem.get("dtype"))) {}

  WorkCounts work() const override {
    WorkCounts work;
    double n = static_cast<double>(n_);
    work.bytes = (is_transfer() ? 1 : arrays_touched()) * n * dtype_bytes(dtype_);
    work.flops = kernel_ == "triad" ? 2 * n : (kernel_ == "scale" || kernel_ == "add") ? n : 0;
    work.samples = n;
    work.sample_unit = "elements";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    // Host-device copies are bounded by the link, not a cache; the memory kernels follow
    // STREAM's array-size rule.
    if (!is_transfer()) work.array_bytes = n * dtype_bytes(dtype_);
    return work;
  }

  Description describe() const override {
    Description d;
    static const char* kFormulas[][2] = {{"copy", "c = a"},
                                         {"scale", "b = 3 c"},
                                         {"add", "c = a + b"},
                                         {"triad", "a = b + 3 c"},
                                         {"h2d", "device = host"},
                                         {"d2h", "host = device"},
                                         {"d2d", "next GPU = this GPU"}};
    std::string formula;
    for (auto& f : kFormulas) {
      if (kernel_ == f[0]) formula = f[1];
    }
    d.summary = fmt::format("STREAM {}: {} over {} {} elements ({} per array)", kernel_, formula,
                            n_, dtype_name(dtype_),
                            format_bytes(static_cast<double>(n_) * dtype_bytes(dtype_)));
    if (is_transfer() && kernel_ != "d2d") {
      d.summary += pinned_ ? " from/to pinned host memory" : " from/to pageable host memory";
    }
    d.facts = {{"bytes formula",
                is_transfer() ? std::string("n x element size (bytes transferred over the link)")
                              : fmt::format("{} x n x element size (STREAM counting: no "
                                            "write-allocate traffic)",
                                            arrays_touched())},
               {"FLOP formula", kernel_ == "copy"    ? "0"
                                : kernel_ == "triad" ? "2 n"
                                                     : "n"},
               {"check", "every element against an fp64 evaluation of the kernel"}};
    return d;
  }

  void setup(ExecContext& context) override {
    auto options =
        at::TensorOptions().dtype(scalar_type(dtype_)).device(context.device.torch_device());
    if (is_transfer()) {
      setup_transfer(context, options);
      return;
    }
    require_support("STREAM in " + dtype_name(dtype_) + " on " + context.device.name(), [&] {
      at::Tensor x = at::ones({8}, options);
      at::add(x, x, kScalar);
    });
    a_ = at::randn({n_}, options);
    b_ = at::randn({n_}, options);
    c_ = at::randn({n_}, options);
    scalar_ = at::scalar_tensor(kScalar, at::TensorOptions().dtype(at::kDouble));
  }

  void step() override {
    if (is_transfer()) {
      c_.copy_(a_, /*non_blocking=*/true);
    } else if (kernel_ == "copy") {
      c_.copy_(a_);
    } else if (kernel_ == "scale") {
      at::mul_out(b_, c_, scalar_);
    } else if (kernel_ == "add") {
      at::add_out(c_, a_, b_);
    } else {
      at::add_out(a_, b_, c_, kScalar);
    }
  }

  CheckOutcome check() override {
    if (is_transfer()) {
      at::Tensor expected = a_.to(at::kCPU, at::kDouble);
      poison(c_);
      step();
      return check_close(c_, expected, 0, "the destination array (a copy is exact)");
    }
    at::Tensor& output = kernel_ == "copy" || kernel_ == "add" ? c_ : kernel_ == "scale" ? b_ : a_;
    at::Tensor expected;
    if (kernel_ == "copy") expected = a_.to(at::kDouble);
    if (kernel_ == "scale") expected = c_.to(at::kDouble) * kScalar;
    if (kernel_ == "add") expected = a_.to(at::kDouble) + b_.to(at::kDouble);
    if (kernel_ == "triad") expected = b_.to(at::kDouble) + c_.to(at::kDouble) * kScalar;
    poison(output);
    step();
    return check_close(output, expected, tolerance(), "the output array");
  }

  void teardown() override { a_ = b_ = c_ = scalar_ = at::Tensor(); }

 private:
  bool is_transfer() const { return kernel_ == "h2d" || kernel_ == "d2h" || kernel_ == "d2d"; }

  /// a_ is the source and c_ the destination of a host<->device or GPU-to-GPU copy.
  void setup_transfer(ExecContext& context, const at::TensorOptions& device_options) {
    if (!context.device.is_accelerator()) {
      throw Unsupported("kernel=" + kernel_ +
                        " copies between host and accelerator: use a CUDA device");
    }
    at::TensorOptions host = device_options.device(at::kCPU);
    if (kernel_ == "h2d") {
      a_ = at::randn({n_}, host);
      if (pinned_) a_ = a_.pin_memory();
      c_ = at::empty({n_}, device_options);
    } else if (kernel_ == "d2h") {
      a_ = at::randn({n_}, device_options);
      c_ = at::empty({n_}, host.pinned_memory(pinned_));
    } else {
      int64_t count = static_cast<int64_t>(gpu_info().size());
      if (count < 2)
        throw Unsupported("kernel=d2d needs two GPUs (found " + std::to_string(count) + ")");
      int peer = (context.device.torch_device().index() + 1) % static_cast<int>(count);
      a_ = at::randn({n_}, device_options);
      c_ = at::empty({n_}, device_options.device(at::Device(at::kCUDA, peer)));
    }
  }

  int arrays_touched() const { return kernel_ == "copy" || kernel_ == "scale" ? 2 : 3; }
  double tolerance() const { return default_tolerance(dtype_); }

  int64_t n_;
  std::string kernel_;
  bool pinned_ = true;
  DType dtype_;
  at::Tensor a_, b_, c_, scalar_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Stream);

}  // namespace dlbench
