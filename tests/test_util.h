// Helpers shared by the tests: fast run rules, temporary files, running the dlbench binary.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "core/runner.h"
#include "workloads/model/model.h"

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

/// Resolves and runs a problem ("micro/gemm m=8") in this process with fast_options().
Result run_problem(const std::string& text);

/// Resolves a problem and creates its model workload (null when it is not a model/...).
std::unique_ptr<model::ModelWorkload> make_model(const std::string& text);

/// Asserts a result PASSED its check and that its figures follow from its work counts and
/// median time and stay below the ceiling. A check that failed for a cause the library probe
/// found (a bf16 / fp16 product accumulating in the storage type: CheckOutcome::cause) is
/// accepted when the reason names it, and noted in the test output.
void expect_sane(const Result& result);

/// Sets an environment variable for a scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();

 private:
  std::string name_, old_;
  bool had_old_ = false;
};

/// Lines of text without the empty ones.
size_t count_lines(const std::string& text);

}  // namespace dlbench::testing
