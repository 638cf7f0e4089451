// Data types as workloads spell them (fp64, fp32, tf32, bf16, fp16) and their LibTorch types.
#pragma once

#include <c10/core/ScalarType.h>

#include <functional>
#include <string>
#include <vector>

namespace dlbench {

/// The LibTorch scalar type that stores `dtype` (tf32 is stored as float32). Throws Error.
c10::ScalarType scalar_type(const std::string& dtype);
/// Bytes per element of `dtype`.
double dtype_bytes(const std::string& dtype);
/// Runs `probe` (a tiny instance of the operation) and turns LibTorch's "not implemented for"
/// errors into Unsupported naming `what`, so a problem the library cannot do is SKIPPED.
void require_support(const std::string& what, const std::function<void()>& probe);

}  // namespace dlbench
