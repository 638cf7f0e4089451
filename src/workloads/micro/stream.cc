// micro/stream: the four STREAM kernels (copy, scale, add, triad) on device memory.
// Bytes are counted as STREAM counts them: each array element read or written once per step.
// See docs/workloads/stream.md.
#include <ATen/ATen.h>

#include <cmath>

#include "core/check.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

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
        ParamSpec::choice("kernel", "triad", {"copy", "scale", "add", "triad"},
                          "copy: c=a; scale: b=s*c; add: c=a+b; triad: a=b+s*c"),
        ParamSpec::choice("dtype", "fp64", {"fp64", "fp32", "bf16", "fp16"},
                          "element type (STREAM uses fp64)"),
    };
    return info;
  }

  explicit Stream(const Problem& problem)
      : Workload(problem),
        n_(problem.get_int("n")),
        kernel_(problem.get("kernel")),
        dtype_(problem.get("dtype")) {}

  WorkCounts work() const override {
    WorkCounts work;
    double n = static_cast<double>(n_);
    work.bytes = arrays_touched() * n * dtype_bytes(dtype_);
    work.flops = kernel_ == "copy" ? 0 : kernel_ == "triad" ? 2 * n : n;
    work.samples = n;
    work.sample_unit = "elements";
    work.dtype = dtype_;
    work.primary = "bandwidth";
    return work;
  }

  Description describe() const override {
    Description d;
    static const char* kFormulas[][2] = {
        {"copy", "c = a"}, {"scale", "b = 3 c"}, {"add", "c = a + b"}, {"triad", "a = b + 3 c"}};
    std::string formula;
    for (auto& f : kFormulas) {
      if (kernel_ == f[0]) formula = f[1];
    }
    d.summary = strprintf("STREAM %s: %s over %lld %s elements (%s per array)", kernel_.c_str(),
                          formula.c_str(), static_cast<long long>(n_), dtype_.c_str(),
                          format_bytes(static_cast<double>(n_) * dtype_bytes(dtype_)).c_str());
    d.facts = {{"bytes formula", strprintf("%d x n x element size (STREAM counting: no "
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
    require_support("STREAM in " + dtype_ + " on " + context.device.name(), [&] {
      at::Tensor x = at::ones({8}, options);
      at::add(x, x, kScalar);
    });
    a_ = at::randn({n_}, options);
    b_ = at::randn({n_}, options);
    c_ = at::randn({n_}, options);
    scalar_ = at::scalar_tensor(kScalar, at::TensorOptions().dtype(at::kDouble));
  }

  void step() override {
    if (kernel_ == "copy") {
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
  int arrays_touched() const { return kernel_ == "copy" || kernel_ == "scale" ? 2 : 3; }
  double tolerance() const { return default_tolerance(dtype_); }

  int64_t n_;
  std::string kernel_, dtype_;
  at::Tensor a_, b_, c_, scalar_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Stream);

}  // namespace dlbench
