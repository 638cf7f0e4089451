// The workload registry: names, parameters and factories. A workload is one file plus one
// DLBENCH_REGISTER_WORKLOAD line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/params.h"
#include "core/problem.h"
#include "core/workload.h"

namespace dlbench {

/// Static information about a workload, shown by `dlbench list`.
struct WorkloadInfo {
  std::string name;         ///< "micro/gemm"
  std::string category;     ///< "micro", "layer", "model", "test"
  std::string description;  ///< one line
  std::vector<std::string> modes;
  std::vector<ParamSpec> params;  ///< the workload's own parameters
  bool hidden = false;            ///< test-only workloads: listed with --all only
};

/// Makes a workload for a canonical problem.
using WorkloadFactory = std::function<std::unique_ptr<Workload>(const Problem&)>;

/// Every registered workload.
class Registry {
 public:
  /// The process-wide registry.
  static Registry& instance();

  /// Registers a workload; a duplicate name aborts at start-up (a programming error).
  void add(WorkloadInfo info, WorkloadFactory factory);
  /// Looks a workload up; throws Error naming the nearest known name.
  const WorkloadInfo& info(const std::string& name) const;
  /// True when a workload of that name is registered.
  bool contains(const std::string& name) const;
  /// Workloads sorted by name.
  std::vector<const WorkloadInfo*> list(bool include_hidden) const;
  /// The workload's parameters followed by the common ones (device, threads, seed).
  std::vector<ParamSpec> params_of(const WorkloadInfo& info) const;
  /// Validates and canonicalises: unknown keys and bad values throw Error; defaults are filled
  /// in; values are normalised. The result's str() is the repro string.
  Problem resolve(const Problem& raw) const;
  /// Creates the workload for a resolved problem.
  std::unique_ptr<Workload> create(const Problem& resolved) const;

 private:
  struct Entry {
    WorkloadInfo info;
    WorkloadFactory factory;
  };
  std::vector<Entry> entries_;
  const Entry& entry(const std::string& name) const;
};

/// The parameters every workload takes: device, threads, seed.
std::vector<ParamSpec> common_params();

/// Registers workload class W (which has `static WorkloadInfo info()` and a constructor taking
/// a const Problem&). Use through DLBENCH_REGISTER_WORKLOAD.
template <class W>
bool register_workload() {
  Registry::instance().add(W::info(),
                           [](const Problem& problem) { return std::make_unique<W>(problem); });
  return true;
}

}  // namespace dlbench

/// The one registration line a workload file needs.
#define DLBENCH_REGISTER_WORKLOAD(Class) \
  static const bool dlbench_registered_##Class = ::dlbench::register_workload<Class>()
