// Helpers shared by the tests: fast run rules, temporary files, running the dlbench binary.
#pragma once

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "harness/runner.h"
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

/// make_model, then set up on the CPU with 2 threads and seed 0 (null when not a model/...).
std::unique_ptr<model::ModelWorkload> set_up_model(const std::string& text);

/// Asserts a result PASSED its check and that its figures follow from its work counts and
/// median time and stay below the ceiling. A check that failed for a cause the library probe
/// found (a bf16 / fp16 product accumulating in the storage type: CheckOutcome::cause) is
/// accepted when the reason names it, and noted in the test output.
void expect_sane(const Result& result);

/// The work counts of a problem ("micro/norm n=3 ..."), resolved and created but not set up.
WorkCounts work_of(const std::string& text);

/// Expects resolving or creating the problem to throw Error (a rejected parameter value).
void expect_rejected(const std::string& text);

/// Expects a result that did not FAIL: sane when it PASSED, and when SKIPPED, skipped because
/// this LibTorch or device does not support the operation.
void expect_passed_or_skipped(const Result& result);

/// Sets an environment variable for a scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();

 private:
  std::string name_, old_;
  bool had_old_ = false;
};

/// Runs `action`, which must throw dlbench::Error with every one of `parts` in a one-line
/// message; returns the message ("" after a test failure).
std::string expect_error(const std::function<void()>& action,
                         std::initializer_list<std::string> parts);

/// The whole text of a file ("" when it cannot be read).
std::string read_text(const std::string& path);

/// Names in `dir`, sorted.
std::vector<std::string> names_in(const std::string& dir);

/// Reads what writers send through `fifo` until the first writer closes it, giving up after
/// `timeout_s` (a writer that never comes, or that replaced the FIFO instead of writing it).
std::string read_fifo(const std::string& fifo, double timeout_s = 60);

/// The mode of `path` itself (lstat: a symlink is not followed); a failure is a test failure.
mode_t mode_of(const std::string& path);

/// Lines of text without the empty ones.
size_t count_lines(const std::string& text);

}  // namespace dlbench::testing
