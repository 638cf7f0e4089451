#include "core/dtype.h"

#include <c10/util/Exception.h>

#include <cmath>

#include "core/error.h"

namespace dlbench {

namespace {

struct DTypeFacts {
  DType dtype;
  const char* name;
  c10::ScalarType storage;
  int significand_bits;  ///< stored mantissa bits + 1; 0 for integers
};

constexpr DTypeFacts kDTypes[] = {
    {DType::kFp64, "fp64", c10::kDouble, 53}, {DType::kFp32, "fp32", c10::kFloat, 24},
    {DType::kTf32, "tf32", c10::kFloat, 11},  {DType::kBf16, "bf16", c10::kBFloat16, 8},
    {DType::kFp16, "fp16", c10::kHalf, 11},   {DType::kInt8, "int8", c10::kChar, 0},
};

const DTypeFacts& facts_of(DType dtype) {
  for (const DTypeFacts& facts : kDTypes) {
    if (facts.dtype == dtype) return facts;
  }
  throw Error("unknown dtype value " + std::to_string(static_cast<int>(dtype)));
}

}  // namespace

std::string dtype_name(DType dtype) { return facts_of(dtype).name; }

std::optional<DType> parse_dtype(const std::string& name) {
  for (const DTypeFacts& facts : kDTypes) {
    if (name == facts.name) return facts.dtype;
  }
  return std::nullopt;
}

DType dtype_named(const std::string& name) {
  if (std::optional<DType> dtype = parse_dtype(name)) return *dtype;
  throw Error("unknown dtype '" + name + "' (fp64, fp32, tf32, bf16, fp16, int8)");
}

c10::ScalarType scalar_type(DType dtype) { return facts_of(dtype).storage; }

c10::ScalarType scalar_type(const std::string& dtype) { return scalar_type(dtype_named(dtype)); }

double dtype_bytes(DType dtype) {
  return static_cast<double>(c10::elementSize(scalar_type(dtype)));
}

double dtype_bytes(const std::string& dtype) { return dtype_bytes(dtype_named(dtype)); }

double unit_roundoff(DType dtype) {
  int bits = facts_of(dtype).significand_bits;
  return bits == 0 ? 0 : std::ldexp(1.0, -bits);
}

bool is_half_precision(DType dtype) { return dtype == DType::kBf16 || dtype == DType::kFp16; }

void require_support(const std::string& what, const std::function<void()>& probe) {
  try {
    probe();
  } catch (const c10::Error& e) {
    std::string message = e.what();
    message = message.substr(0, message.find('\n'));
    if (message.find("not implemented") != std::string::npos ||
        message.find("not supported") != std::string::npos ||
        message.find("Unsupported") != std::string::npos) {
      throw Unsupported(what + " is not supported by this LibTorch/device (" + message + ")");
    }
    throw;
  }
}

}  // namespace dlbench
