// The problems a command line names: workloads, quoted repro strings and key=value overrides.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/problem.h"

namespace dlbench {

/// Problems named on a command line, and the key=value overrides that apply to all of them.
struct TargetList {
  std::vector<Problem> problems;
  std::map<std::string, std::string> overrides;
};

/// Groups command-line tokens: a workload name or a quoted repro string starts a problem; a
/// key=value after it belongs to it; a key=value before any problem is a global override.
/// Throws Error when a key is given twice for one problem (also once globally and once for it).
TargetList parse_targets(const std::vector<std::string>& tokens);

/// Applies global overrides to every problem that accepts the key, then resolves each problem
/// (validating it). Throws Error when a key fits none of the problems. `origins[i]`, when given
/// and not empty, says where problem i was written ("suites/x.yaml:7"): its errors start with it.
std::vector<Problem> resolve_all(const std::vector<Problem>& problems,
                                 const std::map<std::string, std::string>& overrides,
                                 const std::vector<std::string>& origins = {});

}  // namespace dlbench
