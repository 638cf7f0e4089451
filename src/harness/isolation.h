// Isolation: each problem runs in a child process (this same binary, re-executed) with a time
// limit, so a crash, an abort, an out-of-memory kill or a hang fails that problem only.
#pragma once

#include <functional>
#include <string>

#include "harness/runner.h"

namespace dlbench {

/// Runs a resolved problem in a child process. The child writes its Result as JSON to a file;
/// when it dies or overruns `options.timeout`, the result is FAILED with the reason (signal,
/// exit status, timeout) and the last line the child wrote to stderr.
/// `stop_reason`, when given, is asked every 100 ms: a non-empty answer kills the child and
/// fails the problem with that reason (a distributed rank whose peers gave up on it).
Result run_isolated(const Problem& resolved, const RunOptions& options,
                    const std::function<std::string()>& stop_reason = nullptr);

/// The entry point of the child: reads the spec file, runs in process, writes the result file.
/// Returns the process exit status.
int run_child(const std::string& spec_path, const std::string& result_path);

/// True once the user interrupted (SIGINT/SIGTERM) a run; the running child is killed.
bool interrupted();
/// Installs the SIGINT/SIGTERM handlers that set `interrupted()`.
void install_interrupt_handlers();

}  // namespace dlbench
