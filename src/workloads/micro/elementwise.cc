// micro/elementwise: binary element-wise kernels of the kind that glue layers together: the
// residual add (c = a + b), the gating multiply (c = a * b) and add + ReLU (c = relu(a + b)).
// See docs/workloads/elementwise.md.
//
// Work per step (n = elements, e = element size):
//   FLOPs = n (add, mul) or 2 n (add_relu: the add and the max with 0)
//   bytes = 3 n e (read a and b, write c once: the fused minimum; add_relu runs as add_out then
//           relu_ in place, which moves 5 n e, as eager PyTorch's relu(a + b) does)
#include <ATen/ATen.h>
#include <fmt/core.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

class Elementwise : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/elementwise";
    info.category = "micro";
    info.description = "binary element-wise kernels: residual add, multiply, add + ReLU";
    info.params = {
        ParamSpec::choice("op", "add", {"add", "mul", "add_relu"},
                          "add: c=a+b; mul: c=a*b; add_relu: c=relu(a+b)"),
        ParamSpec::integer("elements", int64_t{1} << 23, "elements per tensor", 1),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"}, "element type"),
    };
    return info;
  }

  explicit Elementwise(const Problem& problem)
      : Workload(problem),
        op_(problem.get("op")),
        n_(problem.get_int("elements")),
        dtype_(dtype_named(problem.get("dtype"))) {}

  WorkCounts work() const override {
    WorkCounts work;
    double n = static_cast<double>(n_);
    work.flops = op_ == "add_relu" ? 2 * n : n;
    work.bytes = 3 * n * dtype_bytes(dtype_);
    work.samples = n;
    work.sample_unit = "elements";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    const char* formula = op_ == "add"   ? "c = a + b"
                          : op_ == "mul" ? "c = a * b"
                                         : "c = relu(a + b)";
    d.summary =
        fmt::format("{} over {} {} elements ({} per tensor)", formula, n_, dtype_name(dtype_),
                    format_bytes(static_cast<double>(n_) * dtype_bytes(dtype_)));
    d.facts = {
        {"FLOP formula", op_ == "add_relu" ? "2 n (add, max with 0)" : "n"},
        {"bytes formula", "3 n x element size (read a and b, write c)"},
        {"check", fmt::format("every element against fp64 of the same inputs; tolerance {:g}",
                              default_tolerance(dtype_))},
    };
    if (op_ == "add_relu") {
      d.facts.push_back({"note",
                         "runs as add_out then relu_ in place (two passes, 5 n x element "
                         "size actually moved); bytes count the fused minimum"});
    }
    return d;
  }

  void setup(ExecContext& context) override {
    auto options =
        at::TensorOptions().dtype(scalar_type(dtype_)).device(context.device.torch_device());
    require_support(op_ + " in " + dtype_name(dtype_) + " on " + context.device.name(), [&] {
      at::Tensor x = at::ones({8}, options), y = at::empty_like(x);
      apply(y, x, x);
    });
    a_ = at::randn({n_}, options);
    b_ = at::randn({n_}, options);
    c_ = at::empty({n_}, options);
  }

  void step() override { apply(c_, a_, b_); }

  CheckOutcome check() override {
    poison(c_);
    step();
    at::Tensor a = a_.to(at::kDouble), b = b_.to(at::kDouble);
    at::Tensor reference = op_ == "mul" ? a * b : a + b;
    if (op_ == "add_relu") reference = reference.clamp_min(0);
    return check_close(c_, reference, default_tolerance(dtype_), "c");
  }

  void teardown() override { a_ = b_ = c_ = at::Tensor(); }

 private:
  void apply(at::Tensor& c, const at::Tensor& a, const at::Tensor& b) const {
    if (op_ == "mul") {
      at::mul_out(c, a, b);
    } else {
      at::add_out(c, a, b);
      if (op_ == "add_relu") c.relu_();
    }
  }

  std::string op_;
  int64_t n_;
  DType dtype_;
  at::Tensor a_, b_, c_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Elementwise);

}  // namespace dlbench
