// micro/embedding: embedding-bag lookups (gather rows of a table, pool each bag by sum or mean),
// the memory-bound operation recommendation models (DLRM, Wide&Deep, DeepFM) spend their time in.
// See docs/workloads/embedding.md.
//
// Work per step (L = bags x bag_size lookups, e = element size, indices and offsets int64):
//   fwd FLOPs = L dim adds (+ bags dim divides for mean)
//   fwd bytes = L dim e (gathered rows) + 8 L (indices) + 8 bags (offsets) + bags dim e (output)
//   bwd FLOPs = L dim adds (+ bags dim divides for mean: the output gradient scaled by 1/bag_size)
//   bwd bytes = bags dim e (output gradient read) + L dim e (one gradient row update per lookup)
//             + 8 L + 8 bags + rows dim e (the dense table gradient LibTorch materialises)
// Indices: uniform (at::randint) or Zipf(alpha) over ranks 1..rows (zipf_ranks,
// workloads/common/zipf.h: inverse CDF in fp64 on the CPU), the ranks mapped to row ids by a seeded
// random permutation. They are drawn on the CPU and copied to the device, so a seed gives the same
// indices on every device.
#include <ATen/ATen.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/check.h"
#include "workloads/common/zipf.h"

namespace dlbench {

/// The lookup indices of micro/embedding: `count` row ids in [0, rows) as a CPU int64 tensor,
/// drawn from the global (seeded) generator. zipf: P(rank r) proportional to r^-alpha, ranks
/// mapped to rows by a random permutation; otherwise uniform. Declared again in
/// tests/embedding_test.cc, which tests the skew.
at::Tensor embedding_lookup_indices(int64_t rows, int64_t count, bool zipf, double alpha) {
  auto long_cpu = at::TensorOptions().dtype(at::kLong).device(at::kCPU);
  if (!zipf) return at::randint(rows, {count}, long_cpu);
  at::Tensor permutation = at::randperm(rows, long_cpu);
  at::Tensor rank = zipf_ranks({count}, rows, alpha, torch::kCPU);
  return permutation.index_select(0, rank);
}

namespace {

/// The share of Zipf(alpha) lookups that hit the `top` most frequent of `rows` rows.
double zipf_top_share(int64_t rows, double alpha, int64_t top) {
  double head = 0, total = 0;
  for (int64_t r = rows; r >= 1; --r) {  // smallest terms first
    double p = std::pow(static_cast<double>(r), -alpha);
    total += p;
    if (r <= top) head += p;
  }
  return head / total;
}

class Embedding : public Workload {
 public:
  static WorkloadInfo info() {
    WorkloadInfo info;
    info.name = "micro/embedding";
    info.category = "micro";
    info.description =
        "embedding-bag lookups (gather + sum/mean pooling) of recommendation models (DLRM)";
    info.params = {
        ParamSpec::integer("rows", 1000000, "rows of the embedding table", 1),
        ParamSpec::integer("dim", 64, "embedding dimension (columns of the table)", 1),
        ParamSpec::integer("bags", 2048, "bags per step (the batch: one pooled vector each)", 1),
        ParamSpec::integer("bag_size", 20, "lookups per bag (all bags have the same size)", 1),
        ParamSpec::choice("pooling", "sum", {"sum", "mean"}, "how a bag's rows are pooled"),
        ParamSpec::choice("distribution", "uniform", {"uniform", "zipf"},
                          "index distribution: uniform over rows, or Zipf over randomly "
                          "permuted rows"),
        ParamSpec::real("alpha", 1.05, "Zipf exponent: P(rank r) ~ r^-alpha (zipf only)", 0.01, 10),
        ParamSpec::choice("pass", "fwd", {"fwd", "bwd"},
                          "fwd: pooled output; bwd: dense gradient of the table"),
        ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16"}, "table element type"),
    };
    return info;
  }

  explicit Embedding(const Problem& problem)
      : Workload(problem),
        rows_(problem.get_int("rows")),
        dim_(problem.get_int("dim")),
        bags_(problem.get_int("bags")),
        bag_size_(problem.get_int("bag_size")),
        mean_(problem.get("pooling") == "mean"),
        zipf_(problem.get("distribution") == "zipf"),
        alpha_(problem.get_double("alpha")),
        backward_(problem.get("pass") == "bwd"),
        dtype_(dtype_named(problem.get("dtype"))) {
    if (static_cast<double>(bags_) * static_cast<double>(bag_size_) > 9e18) {
      throw Error("micro/embedding: bags x bag_size overflows a 64-bit index count");
    }
  }

  WorkCounts work() const override {
    WorkCounts work;
    double e = dtype_bytes(dtype_);
    double rows = static_cast<double>(rows_), dim = static_cast<double>(dim_);
    double bags = static_cast<double>(bags_), lookups = bags * static_cast<double>(bag_size_);
    work.flops = lookups * dim + (mean_ ? bags * dim : 0);
    work.bytes = lookups * dim * e + 8 * lookups + 8 * bags + bags * dim * e;
    if (backward_) work.bytes += rows * dim * e;
    work.samples = bags;
    work.sample_unit = "bags";
    work.dtype = dtype_name(dtype_);
    work.primary = "bandwidth";
    // Repeated ids (Zipf's hot rows, or a table that fits in cache) are read from cache.
    work.cache_served_bytes = true;
    return work;
  }

  Description describe() const override {
    Description d;
    int64_t lookups = bags_ * bag_size_;
    d.summary = fmt::format(
        "{} of embedding_bag: {} bags x {} {} lookups into a {} x {} {} table ({}), {} "
        "pooling",
        backward_ ? "dense table gradient" : "forward", bags_, bag_size_,
        zipf_ ? fmt::format("Zipf({:g})", alpha_) : "uniform", rows_, dim_, dtype_name(dtype_),
        format_bytes(static_cast<double>(rows_) * static_cast<double>(dim_) * dtype_bytes(dtype_)),
        mean_ ? "mean" : "sum");
    int64_t top = std::max<int64_t>(1, (rows_ + 99) / 100);
    double share = zipf_ ? zipf_top_share(rows_, alpha_, top)
                         : static_cast<double>(top) / static_cast<double>(rows_);
    d.facts = {
        {"lookups per step", fmt::format("{} (lookups/s = bags/s x {})", lookups, bag_size_)},
        {"top 1% rows' share",
         fmt::format(
             "{:.1f}% of lookups hit the {} most frequent rows ({})", 100 * share, top,
             zipf_ ? "analytic, from the Zipf CDF" : "uniform: equals their share of rows")},
        {"FLOP formula", std::string("bags bag_size dim adds") +
                             (mean_ ? " + bags dim divides (mean)" : "") +
                             (backward_ ? " (bwd: scatter-adds of the output gradient)" : "")},
        {"bytes formula",
         backward_ ? "(bags dim + bags bag_size dim + rows dim) x element size + 8 bags bag_size "
                     "+ 8 bags (output gradient read, one row update per lookup, dense table "
                     "gradient written, int64 indices and offsets)"
                   : "(bags bag_size dim + bags dim) x element size + 8 bags bag_size + 8 bags "
                     "(rows gathered, output written, int64 indices and offsets)"},
        {"check", backward_
                      ? std::string("touched gradient rows (and up to 64 untouched) against an "
                                    "fp64 index_add_; tolerance default(dtype, hottest row's "
                                    "count) (+ u sqrt(count) for fp16/bf16 on the CPU)")
                      : fmt::format("every bag against an fp64 index_select + sum; tolerance "
                                    "{:g}",
                                    default_tolerance(dtype_, static_cast<double>(bag_size_)))},
    };
    if (backward_) {
      d.facts.push_back({"note",
                         "the dense gradient is rows x dim (written every step); real "
                         "trainers update embedding tables sparsely"});
    }
    return d;
  }

  void setup(ExecContext& context) override {
    device_ = context.device.torch_device();
    auto options = at::TensorOptions().dtype(scalar_type(dtype_)).device(device_);
    auto long_options = at::TensorOptions().dtype(at::kLong).device(device_);
    std::string what = "embedding_bag " + std::string(backward_ ? "backward" : "forward") + " in " +
                       dtype_name(dtype_) + " on " + context.device.name();
    require_support(what, [&] {
      at::Tensor w = at::ones({4, 3}, options).requires_grad_(backward_);
      at::Tensor i = at::zeros({4}, long_options);
      at::Tensor o = at::arange(0, 4, 2, long_options);
      try {
        at::Tensor y = std::get<0>(at::embedding_bag(w, i, o, false, mode()));
        if (backward_) torch::autograd::grad({y}, {w}, {at::ones_like(y)});
      } catch (const c10::Error& e) {
        // LibTorch 1.13's CPU embedding_bag rejects bf16 with a dtype check
        // ("Expected tensor for argument #1 'weight' to have one of the
        // following scalar types: Half, Float, Double"), not "not implemented".
        std::string message = e.what();
        message = message.substr(0, message.find('\n'));
        if (message.find("scalar types") == std::string::npos) throw;
        throw Unsupported(what + " is not supported by this LibTorch/device (" + message + ")");
      }
    });
    indices_ = embedding_lookup_indices(rows_, bags_ * bag_size_, zipf_, alpha_).to(device_);
    offsets_ = at::arange(0, bags_ * bag_size_, bag_size_, long_options);
    weight_ = at::randn({rows_, dim_}, options);
    if (backward_) {
      weight_.requires_grad_(true);
      output_ = std::get<0>(at::embedding_bag(weight_, indices_, offsets_, false, mode()));
      grad_output_ = at::randn({bags_, dim_}, options);
    }
  }

  void step() override {
    if (backward_) {
      grad_ = torch::autograd::grad({output_}, {weight_}, {grad_output_},
                                    /*retain_graph=*/true)[0];
    } else {
      output_ = std::get<0>(at::embedding_bag(weight_, indices_, offsets_,
                                              /*scale_grad_by_freq=*/false, mode(),
                                              /*sparse=*/false));
    }
  }

  CheckOutcome check() override {
    // Independent implementation in fp64: index_select + a reshape-and-sum (all bags have the
    // same size), or an index_add_ of the output gradient rows for the backward.
    at::Tensor& got = backward_ ? grad_ : output_;
    if (got.defined()) poison(got);  // the op returns a fresh tensor; kept for uniformity
    step();
    double divisor = mean_ ? static_cast<double>(bag_size_) : 1.0;
    if (!backward_) {
      at::NoGradGuard no_grad;
      at::Tensor reference = weight_.detach()
                                 .to(at::kDouble)
                                 .index_select(0, indices_)
                                 .view({bags_, bag_size_, dim_})
                                 .sum(1)
                                 .div_(divisor);
      return check_close(output_, reference,
                         default_tolerance(dtype_, static_cast<double>(bag_size_)),
                         "pooled output");
    }
    at::NoGradGuard no_grad;
    // Rows compared: every touched row, plus up to 64 untouched ones (their gradient must be 0).
    at::Tensor counts = at::bincount(indices_, {}, rows_);
    double max_count = counts.max().item<double>();
    at::Tensor touched = counts.nonzero().squeeze(1);
    at::Tensor untouched = (counts == 0).nonzero().squeeze(1);
    untouched = untouched.slice(0, 0, std::min<int64_t>(64, untouched.size(0)));
    at::Tensor selected = at::cat({touched, untouched});
    // position[row] = the row's index in `selected` (touched rows only are ever looked up).
    at::Tensor position = at::full({rows_}, -1, indices_.options());
    position.index_put_({touched}, at::arange(touched.size(0), indices_.options()));
    at::Tensor rows_grad =
        grad_output_.to(at::kDouble).div(divisor).repeat_interleave(bag_size_, 0);
    at::Tensor reference = at::zeros({selected.size(0), dim_}, rows_grad.options())
                               .index_add_(0, position.index_select(0, indices_), rows_grad);
    // The gradient of the hottest row is a sum of max_count output-gradient rows.
    return check_close(grad_.index_select(0, selected), reference, backward_tolerance(max_count),
                       fmt::format("table gradient ({} touched + {} untouched rows)",
                                   touched.size(0), untouched.size(0)));
  }

  void teardown() override {
    weight_ = indices_ = offsets_ = output_ = grad_output_ = grad_ = at::Tensor();
  }

 private:
  int64_t mode() const { return mean_ ? 1 : 0; }
  double backward_tolerance(double max_count) const {
    double bound = default_tolerance(dtype_, max_count);
    // LibTorch's CPU dense backward (1.13: _embedding_bag_dense_backward_cpu_sum_mean) adds the
    // gradient rows in the table's own type, so fp16/bf16 sums of max_count terms pick up one
    // storage rounding per addition: a random walk of about u_storage sqrt(max_count). CUDA
    // accumulates in fp32 and keeps the default bound.
    if (device_.is_cpu() && is_half_precision(dtype_)) {
      bound += unit_roundoff(dtype_) * std::sqrt(max_count);
    }
    return bound;
  }

  int64_t rows_, dim_, bags_, bag_size_;
  bool mean_, zipf_;
  double alpha_;
  bool backward_;
  DType dtype_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor weight_, indices_, offsets_, output_, grad_output_, grad_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Embedding);

}  // namespace dlbench
