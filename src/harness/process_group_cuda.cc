// NCCL process groups for CUDA tensors. Compiled only when LibTorch was built with CUDA (see
// CMakeLists.txt); the CPU build's syntax check (tests/CMakeLists.txt) keeps it compiling.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>

#include "harness/process_group.h"

namespace dlbench::dist {

CommBackendPtr make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                 int world_size, double timeout_s) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
}

}  // namespace dlbench::dist
