// `dlbench peak`: measures the machine's compute ceiling per dtype (best of large GEMM and
// convolution) and its memory bandwidth ceiling (STREAM triad; on GPUs also host<->device
// copies), and caches them per machine (analysis/ceilings.h) for every later run.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "harness/runner.h"

namespace dlbench {

/// One problem peak measures and the ceiling it feeds.
struct PeakProblem {
  std::string ceiling;  ///< "compute", "bandwidth", "host_to_device", "device_to_host"
  std::string dtype;    ///< the compute ceiling's dtype ("" for bandwidth ceilings)
  std::string problem;  ///< unresolved problem text
};

/// The problems measured on `device` ("cpu", "cuda:0"); GEMM and conv per dtype, STREAM triad,
/// and host<->device copies on accelerators. Workloads not registered are left out.
std::vector<PeakProblem> peak_problems(const std::string& device);

/// Run rules of a peak measurement; `quick` shortens them (tests, smoke runs).
RunOptions peak_run_options(bool quick);

/// Measures the ceilings of `device` with `threads` CPU threads (each problem isolated in a
/// child), writes the cache file and returns its content (layout: docs/result-schema.md,
/// "measured_ceilings"). `progress` receives one line per problem.
nlohmann::json measure_ceilings(const std::string& device, int threads, bool quick,
                                const std::function<void(const std::string&)>& progress);

}  // namespace dlbench
