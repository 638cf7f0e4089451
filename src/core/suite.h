// Suites: YAML files naming the problems to run, and run rules that suit them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/problem.h"
#include "core/runner.h"

namespace dlbench {

/// One problem of a suite, with an optional per-problem time limit.
struct SuiteEntry {
  Problem problem;  ///< as written (not yet resolved)
  std::optional<double> timeout;
};

/// A parsed suite file.
struct Suite {
  std::string name;
  std::string description;
  std::string path;
  nlohmann::json run = nlohmann::json::object();  ///< run-rule overrides (RunOptions keys)
  std::vector<SuiteEntry> entries;
};

/// Directories searched for a suite given by name: $DLBENCH_SUITE_PATH (colon separated),
/// ./suites, then the source tree's suites/.
std::vector<std::string> suite_search_path();

/// Loads a suite by name ("quick") or path ("suites/quick.yaml", "my.yaml"). Throws Error for
/// an unknown name, an unreadable file or a malformed suite (naming file and entry).
Suite load_suite(const std::string& name_or_path);

}  // namespace dlbench
