// Suites: YAML files naming the problems to run, and run rules that suit them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/problem.h"
#include "harness/runner.h"

namespace dlbench {

/// One problem of a suite, with an optional per-problem time limit. A suite entry
/// `{inputs: LIST, params: {key: value}}` expands to one entry per line of the list.
struct SuiteEntry {
  Problem problem;  ///< as written (not yet resolved)
  std::optional<double> timeout;
  nlohmann::json run = nlohmann::json::object();  ///< this entry's run-rule overrides
  /// Where the problem was written, for messages: "suites/x.yaml:7" (its line in the suite) or
  /// "inputs/deepbench/gemm-train.txt:12" (its line in the problem list an entry names).
  std::string origin;
};

/// One problem of a problem list and where it was written ("inputs/x.txt:7").
struct ListedProblem {
  Problem problem;  ///< as written (not yet resolved)
  std::string origin;
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

/// Directories searched for a problem list given by a relative path: $DLBENCH_INPUTS_PATH
/// (colon separated), ./inputs, then the source tree's inputs/.
std::vector<std::string> inputs_search_path();

/// Reads a problem list (inputs/...): one problem per line in repro-string syntax; blank lines
/// and lines starting with '#' are skipped. `name_or_path` is a path or a name relative to the
/// inputs search path ("deepbench/gemm-train.txt"). Throws Error naming the file and line.
std::vector<Problem> load_problem_list(const std::string& name_or_path);
/// load_problem_list, with each problem's file and line.
std::vector<ListedProblem> load_problem_list_entries(const std::string& name_or_path);

/// Loads a suite by name ("quick") or path ("suites/quick.yaml", "my.yaml"). Throws Error for
/// an unknown name, an unreadable file or a malformed suite; the message of a malformed suite
/// starts with the file and line ("suites/x.yaml:7: ...").
Suite load_suite(const std::string& name_or_path);

}  // namespace dlbench
