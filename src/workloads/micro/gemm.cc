// micro/gemm: C = op(A) op(B), the dense matrix multiply every DL workload rests on.
// FLOPs = 2 m n k; minimum bytes = (m k + k n + m n) x element size. See docs/workloads/gemm.md.
#include <ATen/ATen.h>

#include <cmath>

#include "core/check.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

namespace dlbench {
namespace {

class Gemm : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/gemm";
    info.category = "micro";
    info.description =
        "dense matrix multiply C = op(A) op(B) through BLAS / cuBLAS (DeepBench GEMM)";
    info.params = {
        ParamSpec::integer("m", 1024, "rows of C (and of op(A))", 1),
        ParamSpec::integer("n", 1024, "columns of C (and of op(B))", 1),
        ParamSpec::integer("k", 1024, "the reduction dimension", 1),
        ParamSpec::choice("transa", "n", {"n", "t"}, "A stored transposed (k x m) when t"),
        ParamSpec::choice("transb", "n", {"n", "t"}, "B stored transposed (n x k) when t"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "fp64", "tf32", "bf16", "fp16"},
                          "element type; tf32 = fp32 storage with TF32 tensor cores (CUDA)"),
    };
    return info;
  }

  explicit Gemm(const Problem& problem)
      : Workload(problem),
        m_(problem.get_int("m")),
        n_(problem.get_int("n")),
        k_(problem.get_int("k")),
        transa_(problem.get("transa") == "t"),
        transb_(problem.get("transb") == "t"),
        dtype_(problem.get("dtype")) {}

  WorkCounts work() const override {
    WorkCounts work;
    double m = static_cast<double>(m_), n = static_cast<double>(n_), k = static_cast<double>(k_);
    work.flops = 2.0 * m * n * k;
    work.bytes = (m * k + k * n + m * n) * dtype_bytes(dtype_);
    work.samples = 1;
    work.sample_unit = "GEMMs";
    work.dtype = dtype_;
    work.primary = "flops";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary = strprintf("C[%lld x %lld] = %s x %s in %s", static_cast<long long>(m_),
                          static_cast<long long>(n_), transa_ ? "A^T" : "A", transb_ ? "B^T" : "B",
                          dtype_.c_str());
    d.facts = {
        {"A stored", transa_ ? strprintf("%lld x %lld (transposed view)",
                                         static_cast<long long>(k_), static_cast<long long>(m_))
                             : strprintf("%lld x %lld", static_cast<long long>(m_),
                                         static_cast<long long>(k_))},
        {"B stored", transb_ ? strprintf("%lld x %lld (transposed view)",
                                         static_cast<long long>(n_), static_cast<long long>(k_))
                             : strprintf("%lld x %lld", static_cast<long long>(k_),
                                         static_cast<long long>(n_))},
        {"FLOP formula", "2 m n k"},
        {"bytes formula", "(m k + k n + m n) x element size (each operand once)"},
        {"check", strprintf("sampled rows against an fp64 product; tolerance %g", tolerance())}};
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    if (dtype_ == "tf32" && !context.device.is_accelerator()) {
      throw Unsupported("dtype=tf32 needs CUDA tensor cores; on CPU use fp32");
    }
    at::globalContext().setAllowTF32CuBLAS(dtype_ == "tf32");
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    require_support("a " + dtype_ + " GEMM on " + context.device.name(), [&] {
      at::Tensor x = at::ones({4, 4}, options);
      at::mm(x, x);
    });
    a_ = transa_ ? at::randn({k_, m_}, options).t() : at::randn({m_, k_}, options);
    b_ = transb_ ? at::randn({n_, k_}, options).t() : at::randn({k_, n_}, options);
    c_ = at::empty({m_, n_}, options);
  }

  void step() override { at::mm_out(c_, a_, b_); }

  CheckOutcome check() override {
    // Poison C so an unwritten element cannot pass, run once, then compare sampled rows with
    // an fp64 product of the same (already rounded) inputs.
    poison(c_);
    step();
    int64_t rows = std::min<int64_t>(m_, 64);
    at::Tensor index =
        at::randperm(m_, at::TensorOptions().dtype(at::kLong).device(device_)).slice(0, 0, rows);
    at::Tensor reference = at::mm(a_.index_select(0, index).to(at::kDouble), b_.to(at::kDouble));
    return check_close(c_.index_select(0, index), reference, tolerance(),
                       strprintf("C (%lld sampled rows)", static_cast<long long>(rows)));
  }

  void teardown() override {
    a_ = b_ = c_ = at::Tensor();
    at::globalContext().setAllowTF32CuBLAS(false);
  }

 private:
  double tolerance() const { return default_tolerance(dtype_, static_cast<double>(k_)); }

  int64_t m_, n_, k_;
  bool transa_, transb_;
  std::string dtype_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor a_, b_, c_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Gemm);

}  // namespace dlbench
