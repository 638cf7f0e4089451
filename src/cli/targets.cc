#include "cli/targets.h"

#include <fmt/core.h>

#include <set>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

namespace dlbench {

TargetList parse_targets(const std::vector<std::string>& tokens) {
  TargetList list;
  // A key given before the workloads (for all of them) and again for one problem would leave
  // one of the two values unused: refuse it rather than pick one.
  auto check_not_overridden = [&](const Problem& problem, const std::string& key,
                                  const std::string& value) {
    auto global = list.overrides.find(key);
    if (global == list.overrides.end()) return;
    throw Error(
        fmt::format("parameter '{}' given twice for {}: {}={} before the workload and "
                    "{}={} after it",
                    printable(key), single_quoted(problem.workload), printable(key),
                    printable(global->second), printable(key), printable(value)));
  };
  for (const auto& token : tokens) {
    std::string key, value;
    if (token.find_first_of(" \t") != std::string::npos) {
      list.problems.push_back(Problem::parse(token));
      for (const auto& [k, v] : list.problems.back().params) {
        check_not_overridden(list.problems.back(), k, v);
      }
    } else if (split_assignment(token, &key, &value)) {
      auto& target = list.problems.empty() ? list.overrides : list.problems.back().params;
      if (target.count(key)) throw Error("parameter " + single_quoted(key) + " given twice");
      if (!list.problems.empty()) check_not_overridden(list.problems.back(), key, value);
      target[key] = value;
    } else if (token.find('=') != std::string::npos) {
      throw Error("malformed parameter " + single_quoted(token) + ": expected key=value");
    } else {
      list.problems.push_back(Problem{token, {}});
    }
  }
  return list;
}

std::vector<Problem> resolve_all(const std::vector<Problem>& problems,
                                 const std::map<std::string, std::string>& overrides,
                                 const std::vector<std::string>& origins) {
  const Registry& registry = Registry::instance();
  std::set<std::string> used;
  std::vector<Problem> resolved;
  for (size_t i = 0; i < problems.size(); ++i) {
    Problem problem = problems[i];
    try {
      const WorkloadInfo& info = registry.info(problem.workload);
      for (const auto& spec : registry.params_of(info)) {
        auto it = overrides.find(spec.name);
        if (it != overrides.end()) {
          problem.params[spec.name] = it->second;
          used.insert(spec.name);
        }
      }
      resolved.push_back(registry.resolve(problem));
    } catch (const Error& e) {
      if (i >= origins.size() || origins[i].empty()) throw;
      throw Error(origins[i] + ": " + e.what());
    }
  }
  for (const auto& [key, value] : overrides) {
    if (!used.count(key)) {
      throw Error("parameter " + single_quoted(key) + " is not accepted by any selected workload");
    }
  }
  return resolved;
}

}  // namespace dlbench
