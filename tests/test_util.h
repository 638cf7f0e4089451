// Helpers shared by the tests: fast run rules, temporary files, running the dlbench binary.
#pragma once

#include <string>

#include "core/runner.h"

namespace dlbench::testing {

/// Run rules that keep tests fast: no warm-up time, two steps, one repetition.
RunOptions fast_options();

/// A fresh temporary directory for one test (removed by the OS's tmp cleaning, not by us).
std::string temp_dir();

/// Writes text to a file.
void write_file(const std::string& path, const std::string& text);

/// The outcome of running the dlbench binary.
struct Command {
  int exit_code = -1;
  std::string out, err;
};

/// Runs `dlbench ARGS` (ARGS is shell-quoted by the caller) and captures everything.
Command dlbench(const std::string& args);

/// Lines of text without the empty ones.
size_t count_lines(const std::string& text);

}  // namespace dlbench::testing
