// micro/softmax: softmax (or log-softmax) over the last dimension of a rows x cols matrix, the
// normalisation at the end of classifiers and inside attention. See docs/workloads/softmax.md.
//
// Work per step (n = rows x cols, e = element size):
//   fwd softmax     FLOPs = 5 n (max, subtract, exp, sum, divide per element)
//   fwd log_softmax FLOPs = 5 n + rows (max, subtract, exp, sum, subtract per element; one log
//                           per row)
//   bwd softmax     FLOPs = 4 n (g y, sum, g - s, y (g - s))
//   bwd log_softmax FLOPs = 4 n (sum g, exp y, exp(y) s, g - exp(y) s)
//   bytes: fwd 2 n e (read x, write y); bwd 3 n e (read g and y, write grad_x)
#include <ATen/ATen.h>
#include <fmt/core.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

namespace dlbench {
namespace {

class Softmax : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/softmax";
    info.category = "micro";
    info.description = "softmax / log-softmax over the last dimension of a rows x cols matrix";
    info.params = {
        ParamSpec::integer("rows", 4096, "independent rows (e.g. batch x heads x queries)", 1),
        ParamSpec::integer("cols", 1024, "length of each softmax (classes, keys)", 1),
        ParamSpec::boolean("log", false, "log-softmax instead of softmax"),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: y = softmax(x); bwd: grad_x from grad_y and y"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16", "fp64"}, "element type"),
    };
    return info;
  }

  explicit Softmax(const Problem& problem)
      : Workload(problem),
        rows_(problem.get_int("rows")),
        cols_(problem.get_int("cols")),
        log_(problem.get_bool("log")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))) {}

  WorkCounts work() const override {
    WorkCounts work;
    double rows = static_cast<double>(rows_), n = rows * static_cast<double>(cols_);
    work.flops = backward_ ? 4 * n : 5 * n + (log_ ? rows : 0);
    work.bytes = (backward_ ? 3 : 2) * n * dtype_bytes(dtype_);
    work.samples = rows;
    work.sample_unit = "rows";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = fmt::format("{}{} over {} rows of {} {} elements", log_ ? "log_softmax" : "softmax",
                            backward_ ? " backward" : "", rows_, cols_, dtype_name(dtype_));
    std::string flops;
    if (backward_) {
      flops = log_ ? "4 rows cols (sum g, exp y, exp(y) sum, g - exp(y) sum)"
                   : "4 rows cols (g y, sum, g - sum, y (g - sum))";
    } else {
      flops = log_ ? "5 rows cols + rows (max, x - max, exp, sum, - log(sum); one log per row)"
                   : "5 rows cols (max, x - max, exp, sum, divide)";
    }
    d.facts = {
        {"FLOP formula", flops},
        {"bytes formula", backward_ ? "3 rows cols x element size (read grad_y and y, write grad_x)"
                                    : "2 rows cols x element size (read x, write y)"},
        {"check",
         fmt::format("every element against an fp64 {}; tolerance {:g}",
                     backward_ ? "formula from the same y and grad_y" : "softmax of the same x",
                     tolerance())},
    };
    return d;
  }

  void setup(ExecContext& context) override {
    auto options =
        at::TensorOptions().dtype(scalar_type(dtype_)).device(context.device.torch_device());
    require_support(std::string(log_ ? "log_softmax" : "softmax") + (backward_ ? " backward" : "") +
                        " in " + dtype_name(dtype_) + " on " + context.device.name(),
                    [&] {
                      at::Tensor x = at::ones({2, 3}, options), y = at::empty_like(x);
                      forward_out(y, x);
                      if (backward_) backward_out(x, y, y);
                    });
    x_ = at::randn({rows_, cols_}, options);
    y_ = at::empty({rows_, cols_}, options);
    if (backward_) {
      forward_out(y_, x_);  // the saved output the backward reads
      grad_y_ = at::randn({rows_, cols_}, options);
      grad_x_ = at::empty({rows_, cols_}, options);
    }
  }

  void step() override {
    if (backward_) {
      backward_out(grad_x_, grad_y_, y_);
    } else {
      forward_out(y_, x_);
    }
  }

  CheckOutcome check() override {
    at::Tensor& output = backward_ ? grad_x_ : y_;
    poison(output);
    step();
    at::Tensor reference;
    if (!backward_) {
      at::Tensor x = x_.to(at::kDouble);
      reference = log_ ? at::log_softmax(x, 1) : at::softmax(x, 1);
      return check_close(y_, reference, tolerance(),
                         log_ ? "log-softmax output" : "softmax output");
    }
    at::Tensor y = y_.to(at::kDouble), g = grad_y_.to(at::kDouble);
    if (log_) {
      reference = g - y.exp() * g.sum(1, true);
    } else {
      reference = y * (g - (g * y).sum(1, true));
    }
    return check_close(grad_x_, reference, tolerance(), "input gradient");
  }

  void teardown() override { x_ = y_ = grad_y_ = grad_x_ = at::Tensor(); }

 private:
  void forward_out(at::Tensor& y, const at::Tensor& x) const {
    if (log_) {
      at::_log_softmax_out(y, x, 1, /*half_to_float=*/false);
    } else {
      at::_softmax_out(y, x, 1, /*half_to_float=*/false);
    }
  }
  void backward_out(at::Tensor& grad_x, const at::Tensor& grad_y, const at::Tensor& y) const {
    if (log_) {
      at::_log_softmax_backward_data_out(grad_x, grad_y, y, 1, y.scalar_type());
    } else {
      at::_softmax_backward_data_out(grad_x, grad_y, y, 1, y.scalar_type());
    }
  }
  // Each output element comes from a sum over the row (cols terms), accumulated in fp32 for the
  // low-precision types.
  double tolerance() const { return default_tolerance(dtype_, static_cast<double>(cols_)); }

  int64_t rows_, cols_;
  bool log_, backward_;
  DType dtype_;
  at::Tensor x_, y_, grad_y_, grad_x_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Softmax);

}  // namespace dlbench
