// The spec file an isolated child process runs (`dlbench _child SPEC RESULT`): the problem's
// repro string and its run options, checked before the child uses them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dlbench {

/// What is wrong with `options` as saved run options (RunOptions::to_json: numbers, integers,
/// true/false, text and the process-group object where expected); "" when nothing is.
std::string run_options_problem(const nlohmann::json& options);

/// Reads a child spec: a JSON object with "problem" (text) and "options" (run options). Throws
/// Error naming the file when it is unreadable, not JSON (parse_json_file's limits apply) or
/// lacks a field or has one of the wrong type.
nlohmann::json load_child_spec(const std::string& path);

}  // namespace dlbench
