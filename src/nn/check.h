// Correctness checks shared by the micro workloads, in the spirit of benchdnn's correctness
// mode: poison the output, run once, compare with a reference computed in higher precision (or
// by an independent implementation) under a tolerance set by the dtype.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/workload.h"

namespace dlbench {

/// The relative-error bound for results computed in `dtype`, for outputs whose reference takes the
/// same (rounded) inputs: the bound covers accumulation and output rounding only. `reduction` is
/// the length of the longest sum behind one output element; low-precision bounds grow with its
/// square root (random rounding errors).
double default_tolerance(DType dtype, double reduction = 1);

/// Fills a floating tensor with NaN (an integer one with its minimum value) so an element the
/// kernel under test forgets to write cannot pass the check.
void poison(at::Tensor& tensor);

/// Compares `got` (any dtype, any device) with `reference` (same shape; computed in fp64 or by
/// an independent implementation). The error is the relative Frobenius norm
/// ||got - reference|| / ||reference|| (the absolute norm when the reference is all zeros);
/// any NaN or Inf in `got` that the reference does not have fails. `what` names the output.
/// A failed check of a bf16 / fp16 `got` carries storage_accumulation_cause() in its `cause`.
///
/// Test-only switches (environment, inherited by isolated children), which exist to prove the
/// check can fail; a result made with one says so in its check detail:
///   DLBENCH_TEST_CORRUPT_OUTPUT=1    perturbs one element of `got` by ||reference|| + 1
///   DLBENCH_TEST_TOLERANCE_SCALE=x   multiplies every tolerance by x (negative: nothing passes)
CheckOutcome check_close(const at::Tensor& got, const at::Tensor& reference, double tolerance,
                         const std::string& what);

/// `tolerance` with DLBENCH_TEST_TOLERANCE_SCALE applied (for checks that do not go through
/// check_close); `tolerance` itself when the switch is unset.
double effective_tolerance(double tolerance);

/// One operand layout of the storage-accumulation probe and what its product gave.
struct AccumulationLayout {
  bool transpose_a = false;  ///< A stored transposed
  bool transpose_b = false;  ///< B stored transposed
  double smallest_sum = 0;   ///< the smallest element of the product (n when exact)
};

/// The storage-accumulation probe of a low-precision matrix product: for each of the four
/// operand layouts (A and B each plain or transposed), the product of a 4 x n matrix of ones
/// and an n x 4 one. Every element is n with fp32 accumulation; a running sum rounded to bf16
/// stops at 256 (256 + 1 rounds back to 256), one rounded to fp16 at 2048, so n is 512 for
/// bf16 and 4096 for fp16.
struct AccumulationProbe {
  int64_t n = 0;                            ///< ones summed into each element (0: not probed)
  std::vector<AccumulationLayout> layouts;  ///< one per layout (empty: not supported)
  /// The layouts whose sum fell short of n: accumulation in the storage type.
  std::vector<AccumulationLayout> short_layouts() const;
};

/// The operands the probe multiplies for one layout (A: 4 x n, B: n x 4, each stored
/// transposed when asked), so a test can recompute a layout's product itself.
std::pair<at::Tensor, at::Tensor> accumulation_probe_operands(at::ScalarType dtype,
                                                              const at::Device& device, int64_t n,
                                                              bool transpose_a, bool transpose_b);

/// Runs the probe for `dtype` (kBFloat16, kHalf) on `device`; an empty probe (n = 0) for other
/// dtypes, no layouts when the product is not supported there. Not cached.
AccumulationProbe probe_storage_accumulation(at::ScalarType dtype, const at::Device& device);

/// Whether this LibTorch's matrix product in `dtype` on `device` accumulates in the storage type
/// instead of fp32, as probe_storage_accumulation() finds it: a sentence for a failure reason
/// naming the short layouts with their sums ("" when none falls short, for other dtypes, or when
/// the product is not supported). Cached per (dtype, device) for the process.
std::string storage_accumulation_cause(at::ScalarType dtype, const at::Device& device);

/// True when a test-only switch is set; such results are not measurements of record.
bool test_switch_active();

}  // namespace dlbench
