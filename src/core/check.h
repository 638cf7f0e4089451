// Correctness checks shared by the micro workloads, in the spirit of benchdnn's correctness
// mode: poison the output, run once, compare with a reference computed in higher precision (or
// by an independent implementation) under a tolerance set by the dtype.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "core/workload.h"

namespace dlbench {

/// The relative-error bound for results computed in `dtype` ("fp64", "fp32", "tf32", "bf16",
/// "fp16", "int8"), for outputs whose reference takes the same (rounded) inputs: the bound covers
/// accumulation and output rounding only. `reduction` is the length of the longest sum behind
/// one output element; low-precision bounds grow with its square root (random rounding errors).
double default_tolerance(const std::string& dtype, double reduction = 1);

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

/// Probes whether this LibTorch's matrix product in a low-precision `dtype` (kBFloat16, kHalf)
/// on `device` accumulates in the storage type instead of fp32, for each of the four operand
/// layouts (A and B each plain or transposed): a row of 512 ones times a column of 512 ones is
/// 512 with fp32 accumulation and stops at 256 when the running sum is rounded to bf16 (256 + 1
/// rounds back to 256; fp16 stops at 2048, so its probe uses 4096 ones). Returns a sentence for a
/// failure reason naming the layouts that do ("" when none does, for other dtypes, or when the
/// product is not supported). Cached per (dtype, device) for the process.
std::string storage_accumulation_cause(at::ScalarType dtype, const at::Device& device);

/// True when a test-only switch is set; such results are not measurements of record.
bool test_switch_active();

}  // namespace dlbench
