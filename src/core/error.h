// The one exception type of dlbench, and the exit codes the CLI maps errors to.
#pragma once

#include <stdexcept>
#include <string>

namespace dlbench {

/// Exit status for success.
constexpr int kExitOk = 0;
/// Exit status when at least one problem FAILED.
constexpr int kExitFailures = 1;
/// Exit status for bad input: unknown workload, bad parameter, unreadable file, bad suite.
constexpr int kExitUsage = 2;

/// An error whose message a user can act on (it names the problem and, where possible, the fix).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Raised by a workload or device when a problem cannot run here (no CUDA, dtype unsupported by
/// the device or the library). The runner turns it into a SKIPPED result, not a failure.
class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& message) : Error(message) {}
};

}  // namespace dlbench
