#include "nn/check.h"

#include <fmt/core.h>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "core/strings.h"

namespace dlbench {

namespace {

bool corrupt_requested() {
  const char* value = std::getenv("DLBENCH_TEST_CORRUPT_OUTPUT");
  return value && *value && std::string(value) != "0";
}

std::optional<double> tolerance_scale() {
  const char* value = std::getenv("DLBENCH_TEST_TOLERANCE_SCALE");
  if (!value || !*value) return std::nullopt;
  return parse_double(value);
}

}  // namespace

std::vector<AccumulationLayout> AccumulationProbe::short_layouts() const {
  std::vector<AccumulationLayout> out;
  for (const AccumulationLayout& layout : layouts) {
    if (layout.smallest_sum < static_cast<double>(n)) out.push_back(layout);
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> accumulation_probe_operands(at::ScalarType dtype,
                                                              const at::Device& device, int64_t n,
                                                              bool transpose_a, bool transpose_b) {
  at::TensorOptions options = at::TensorOptions().dtype(dtype).device(device);
  at::Tensor a = transpose_a ? at::ones({n, 4}, options).t() : at::ones({4, n}, options);
  at::Tensor b = transpose_b ? at::ones({4, n}, options).t() : at::ones({n, 4}, options);
  return {a, b};
}

AccumulationProbe probe_storage_accumulation(at::ScalarType dtype, const at::Device& device) {
  AccumulationProbe probe;
  if (dtype != at::kBFloat16 && dtype != at::kHalf) return probe;
  probe.n = dtype == at::kBFloat16 ? 512 : 4096;
  try {
    for (bool transpose_a : {false, true}) {
      for (bool transpose_b : {false, true}) {
        auto [a, b] = accumulation_probe_operands(dtype, device, probe.n, transpose_a, transpose_b);
        double sum = at::mm(a, b).to(at::kCPU, at::kDouble).min().item<double>();
        probe.layouts.push_back({transpose_a, transpose_b, sum});
      }
    }
  } catch (const std::exception&) {
    probe.layouts.clear();  // not supported: nothing to say
  }
  return probe;
}

std::string storage_accumulation_cause(at::ScalarType dtype, const at::Device& device) {
  if (dtype != at::kBFloat16 && dtype != at::kHalf) return "";
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(static_cast<int>(dtype), device.str());
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  AccumulationProbe probe = probe_storage_accumulation(dtype, device);
  std::vector<std::string> layouts;
  for (const AccumulationLayout& layout : probe.short_layouts()) {
    layouts.push_back(fmt::format("A{} B{} (sum {:g})", layout.transpose_a ? "^T" : "",
                                  layout.transpose_b ? "^T" : "", layout.smallest_sum));
  }
  std::string cause;
  if (!layouts.empty()) {
    std::string name = dtype == at::kBFloat16 ? "bf16" : "fp16";
    cause = fmt::format(
        "likely cause: this LibTorch's {} matrix product on {} accumulates in {}, not fp32 "
        "(probe, layout(s) {} of {} ones), an error the fp32-accumulation bound does not "
        "allow: a defect of the library on this machine",
        name, device.str(), name, join(layouts, ", "), probe.n);
  }
  cache[key] = cause;
  return cause;
}

double default_tolerance(DType dtype, double reduction) {
  // u: the unit roundoff of the storage type. Low-precision kernels accumulate in fp32, so the
  // bound is the output rounding (a few u of the storage type; tf32 also rounds both inputs)
  // plus 8 u_acc sqrt(reduction) for the sum (errors of random sign add like a random walk).
  if (dtype == DType::kInt8) return 0;  // integer accumulation is exact
  double u = unit_roundoff(dtype);
  double u_accumulate = unit_roundoff(dtype == DType::kFp64 ? DType::kFp64 : DType::kFp32);
  double rounding = (dtype == DType::kTf32 ? 4 : 2) * u;
  double bound = rounding + 8 * u_accumulate * std::sqrt(std::max(1.0, reduction));
  // Floors keep tiny problems from demanding better than a library's blocking can give.
  double floor = dtype == DType::kFp64 ? 1e-12 : dtype == DType::kFp32 ? 1e-5 : 0;
  return std::max(bound, floor);
}

void poison(at::Tensor& tensor) {
  if (at::isFloatingType(tensor.scalar_type())) {
    tensor.fill_(std::numeric_limits<double>::quiet_NaN());
  } else if (tensor.scalar_type() == at::kChar) {
    tensor.fill_(-128);
  } else if (tensor.scalar_type() == at::kInt) {
    tensor.fill_(std::numeric_limits<int32_t>::min());
  } else {
    tensor.fill_(-1);
  }
}

bool test_switch_active() { return corrupt_requested() || tolerance_scale().has_value(); }

double effective_tolerance(double tolerance) {
  auto scale = tolerance_scale();
  return scale ? tolerance * *scale : tolerance;
}

CheckOutcome check_close(const at::Tensor& got_in, const at::Tensor& reference_in, double tolerance,
                         const std::string& what) {
  at::Tensor reference = reference_in.detach().to(at::kCPU, at::kDouble).contiguous();
  at::Tensor got = got_in.detach().to(at::kCPU, at::kDouble).contiguous().clone();
  tolerance = effective_tolerance(tolerance);
  std::string detail;
  if (got.sizes() != reference.sizes()) {
    return CheckOutcome::compare(NAN, tolerance, what + ": shape differs from the reference");
  }
  double reference_norm = reference.numel() ? reference.norm().item<double>() : 0.0;
  if (corrupt_requested() && got.numel() > 0) {
    got.view({-1})[0] += reference_norm + 1;
    detail = "DLBENCH_TEST_CORRUPT_OUTPUT perturbed one element (test switch)";
  }
  if (tolerance_scale()) {
    detail +=
        (detail.empty() ? "" : "; ") +
        fmt::format("DLBENCH_TEST_TOLERANCE_SCALE={:g} applied (test switch)", *tolerance_scale());
  }
  // Non-finite values the reference does not have are always wrong (a poisoned element left
  // unwritten shows up here).
  at::Tensor bad = at::logical_and(at::logical_not(at::isfinite(got)), at::isfinite(reference));
  int64_t bad_count = bad.sum().item<int64_t>();
  if (bad_count > 0) {
    return CheckOutcome::compare(
        NAN, tolerance, fmt::format("{}: {} NaN/Inf or unwritten element(s)", what, bad_count),
        detail);
  }
  at::Tensor finite = at::isfinite(reference);
  at::Tensor difference = at::where(finite, got - reference, at::zeros_like(got));
  double error_norm = difference.norm().item<double>();
  bool relative = reference_norm > 0;
  double error = relative ? error_norm / reference_norm : error_norm;
  double max_abs = difference.numel() ? difference.abs().max().item<double>() : 0.0;
  detail += (detail.empty() ? "" : "; ") +
            fmt::format("max |error| {:.3g} over {} elements", max_abs, got.numel());
  CheckOutcome outcome =
      CheckOutcome::compare(error, tolerance,
                            what + (relative ? ": relative Frobenius error vs reference"
                                             : ": Frobenius error vs an all-zero reference"),
                            detail);
  if (outcome.status == CheckOutcome::Status::kFailed) {
    outcome.cause = storage_accumulation_cause(got_in.scalar_type(), got_in.device());
  }
  return outcome;
}

}  // namespace dlbench
