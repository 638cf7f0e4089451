// The communication group a problem's collectives run in, as the harness hands it to a workload
// through the execution context (core/workload.h). The harness implements it with LibTorch's
// c10d process groups (harness/process_group.h); workloads see only this interface.
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/comm_backend.h"

namespace dlbench {

/// The ranks a problem runs on, and the c10d backend of each device kind.
class CommGroup {
 public:
  virtual ~CommGroup() = default;
  /// This process's rank, 0 .. world_size() - 1.
  virtual int rank() const = 0;
  /// Ranks in the group (1: a single-rank run).
  virtual int world_size() const = 0;
  /// The backend collectives on `device` use (Gloo for CPU tensors, NCCL for CUDA ones);
  /// throws Unsupported for a device no backend of this build serves.
  virtual CommBackend& backend_for(const torch::Device& device) = 0;
};

/// "gloo" or "nccl": the backend CommGroup::backend_for gives for `device`.
inline std::string comm_backend_name(const torch::Device& device) {
  return device.is_cuda() ? "nccl" : "gloo";
}

}  // namespace dlbench
