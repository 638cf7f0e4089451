// The one spelling of LibTorch's c10d communication backend across LibTorch versions: in 1.13 a
// backend (Gloo, NCCL) is a c10d::ProcessGroup; from 2.0 it is a c10d::Backend that a
// ProcessGroup wraps. dlbench drives the backend directly, so code names CommBackend.
#pragma once

#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

namespace dlbench {

#if TORCH_VERSION_MAJOR >= 2
/// A c10d backend (Gloo or NCCL): collectives, point-to-point, barrier.
using CommBackend = c10d::Backend;
#else
/// A c10d backend (Gloo or NCCL): collectives, point-to-point, barrier.
using CommBackend = c10d::ProcessGroup;
#endif

/// A shared handle on a backend.
using CommBackendPtr = c10::intrusive_ptr<CommBackend>;

}  // namespace dlbench
