#include "core/dtype.h"

#include <c10/util/Exception.h>

#include "core/error.h"

namespace dlbench {

c10::ScalarType scalar_type(const std::string& dtype) {
  if (dtype == "fp64") return c10::kDouble;
  if (dtype == "fp32" || dtype == "tf32") return c10::kFloat;
  if (dtype == "bf16") return c10::kBFloat16;
  if (dtype == "fp16") return c10::kHalf;
  if (dtype == "int8") return c10::kChar;
  throw Error("unknown dtype '" + dtype + "'");
}

double dtype_bytes(const std::string& dtype) {
  return static_cast<double>(c10::elementSize(scalar_type(dtype)));
}

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
