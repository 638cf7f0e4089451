// micro/gemm: C = op(A) op(B), the dense matrix multiply every DL workload rests on.
// FLOPs = 2 m n k; minimum bytes = (m k + k n + m n) x element size. See docs/workloads/gemm.md.
#include <ATen/ATen.h>
#include <fmt/core.h>

#include <torch/version.h>

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"

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
        ParamSpec::choice("dtype", "fp32", {"fp32", "fp64", "tf32", "bf16", "fp16", "int8"},
                          "element type; tf32 = fp32 storage with TF32 tensor cores (CUDA); "
                          "int8 = int8 inputs, int32 result (at::_int_mm, LibTorch >= 2.1)"),
        ParamSpec::integer("batch", 1, "independent GEMMs per step (batched GEMM via bmm)", 1),
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
        dtype_(dtype_named(problem.get("dtype"))),
        batch_(problem.get_int("batch")) {}

  WorkCounts work() const override {
    WorkCounts work;
    double m = static_cast<double>(m_), n = static_cast<double>(n_), k = static_cast<double>(k_);
    double batch = static_cast<double>(batch_);
    work.flops = 2.0 * batch * m * n * k;
    // int8 GEMMs write an int32 result.
    double c_bytes = dtype_ == DType::kInt8 ? 4 : dtype_bytes(dtype_);
    work.bytes = batch * ((m * k + k * n) * dtype_bytes(dtype_) + m * n * c_bytes);
    work.samples = batch;
    work.sample_unit = "GEMMs";
    work.dtype = dtype_name(dtype_);
    work.primary = "flops";
    return work;
  }

  Description describe() const override {
    Description d;
    d.summary =
        fmt::format("{}C[{} x {}] = {} x {} in {}", batch_ > 1 ? fmt::format("{} x ", batch_) : "",
                    m_, n_, transa_ ? "A^T" : "A", transb_ ? "B^T" : "B", dtype_name(dtype_));
    d.facts = {{"A stored", transa_ ? fmt::format("{} x {} (transposed view)", k_, m_)
                                    : fmt::format("{} x {}", m_, k_)},
               {"B stored", transb_ ? fmt::format("{} x {} (transposed view)", n_, k_)
                                    : fmt::format("{} x {}", k_, n_)},
               {"FLOP formula", "2 batch m n k"},
               {"bytes formula",
                "batch x ((m k + k n) x element size + m n x result size) (each operand once; the "
                "result is int32 for int8)"},
               {"check",
                fmt::format("sampled rows against an fp64 product; tolerance {:g}", tolerance())}};
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    if (dtype_ == DType::kTf32 && !context.device.is_accelerator()) {
      throw Unsupported("dtype=tf32 needs CUDA tensor cores; on CPU use fp32");
    }
    at::globalContext().setAllowTF32CuBLAS(dtype_ == DType::kTf32);
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    if (dtype_ == DType::kInt8) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
      if (batch_ > 1) throw Unsupported("int8 GEMM is not batched (at::_int_mm): use batch=1");
      require_support("an int8 GEMM on " + context.device.name(), [&] {
        at::Tensor x = at::ones({32, 32}, options);
        at::_int_mm(x, x);
      });
#else
      throw Unsupported("int8 GEMM needs at::_int_mm (LibTorch >= 2.1); this is LibTorch " +
                        std::string(TORCH_VERSION));
#endif
    } else {
      require_support("a " + dtype_name(dtype_) + " GEMM on " + context.device.name(), [&] {
        at::Tensor x = at::ones({4, 4}, options);
        at::mm(x, x);
      });
    }
    a_ = make_operand(transa_, m_, k_, options);
    b_ = make_operand(transb_, k_, n_, options);
    std::vector<int64_t> c_shape = {m_, n_};
    if (batch_ > 1) c_shape.insert(c_shape.begin(), batch_);
    c_ = at::empty(c_shape, dtype_ == DType::kInt8 ? options.dtype(at::kInt) : options);
  }

  void step() override {
    if (batch_ > 1) {
      at::bmm_out(c_, a_, b_);
    } else if (dtype_ == DType::kInt8) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
      at::_int_mm_out(c_, a_, b_);
#endif
    } else {
      at::mm_out(c_, a_, b_);
    }
  }

  CheckOutcome check() override {
    // Poison C so an unwritten element cannot pass, run once, then compare sampled rows with
    // an fp64 product of the same (already rounded) inputs.
    poison(c_);
    step();
    // The last GEMM of a batch (any would do; the last catches batch-stride mistakes).
    at::Tensor a = batch_ > 1 ? a_[batch_ - 1] : a_;
    at::Tensor b = batch_ > 1 ? b_[batch_ - 1] : b_;
    at::Tensor c = batch_ > 1 ? c_[batch_ - 1] : c_;
    int64_t rows = std::min<int64_t>(m_, 64);
    at::Tensor index =
        at::randperm(m_, at::TensorOptions().dtype(at::kLong).device(device_)).slice(0, 0, rows);
    at::Tensor reference = at::mm(a.index_select(0, index).to(at::kDouble), b.to(at::kDouble));
    return check_close(c.index_select(0, index), reference, tolerance(),
                       fmt::format("C ({} sampled rows{})", rows,
                                   batch_ > 1 ? " of the last GEMM of the batch" : ""));
  }

  void teardown() override {
    a_ = b_ = c_ = at::Tensor();
    at::globalContext().setAllowTF32CuBLAS(false);
  }

 private:
  /// A rows x cols operand (batched when batch > 1), stored transposed when `transposed`.
  /// int8 operands are small integers so the int32 sums stay exact.
  at::Tensor make_operand(bool transposed, int64_t rows, int64_t cols,
                          const at::TensorOptions& options) const {
    std::vector<int64_t> shape =
        transposed ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{rows, cols};
    if (batch_ > 1) shape.insert(shape.begin(), batch_);
    at::Tensor t =
        dtype_ == DType::kInt8 ? at::randint(-64, 64, shape, options) : at::randn(shape, options);
    return transposed ? t.transpose(-1, -2) : t;
  }

  double tolerance() const { return default_tolerance(dtype_, static_cast<double>(k_)); }

  int64_t m_, n_, k_;
  bool transa_, transb_;
  DType dtype_;
  int64_t batch_ = 1;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor a_, b_, c_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Gemm);

}  // namespace dlbench
