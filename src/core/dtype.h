// Data types as workloads spell them (fp64, fp32, tf32, bf16, fp16, int8): a typed DType for
// decisions, its name for results and repro strings, and its LibTorch storage type.
#pragma once

#include <c10/core/ScalarType.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dlbench {

/// A compute data type. Prints and parses as its name ("fp32"), which results and repro
/// strings keep.
enum class DType { kFp64, kFp32, kTf32, kBf16, kFp16, kInt8 };

/// The name of `dtype` ("bf16").
std::string dtype_name(DType dtype);
/// The DType named `name`; nullopt for any other text.
std::optional<DType> parse_dtype(const std::string& name);
/// The DType named `name`; throws Error naming the known ones otherwise.
DType dtype_named(const std::string& name);

/// The LibTorch scalar type that stores `dtype` (tf32 is stored as float32).
c10::ScalarType scalar_type(DType dtype);
/// The same for a dtype name; throws Error for an unknown one.
c10::ScalarType scalar_type(const std::string& dtype);
/// Bytes per element of `dtype`.
double dtype_bytes(DType dtype);
double dtype_bytes(const std::string& dtype);
/// The unit roundoff of `dtype`'s significand (2^-24 for fp32; tf32 and fp16 keep 10 stored
/// bits, bf16 7); 0 for int8, whose arithmetic is exact.
double unit_roundoff(DType dtype);
/// True for the 16-bit floating types (bf16, fp16).
bool is_half_precision(DType dtype);

/// Runs `probe` (a tiny instance of the operation) and turns LibTorch's "not implemented for"
/// errors into Unsupported naming `what`, so a problem the library cannot do is SKIPPED.
void require_support(const std::string& what, const std::function<void()>& probe);

}  // namespace dlbench
