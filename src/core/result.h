// Results: one record per problem, and the document (schema_version, context, results) they
// are saved in. See docs/result-schema.md.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ceiling.h"
#include "core/stats.h"
#include "core/workload.h"

namespace dlbench {

/// Version of the results JSON layout; bump the minor for additions, the major for changes.
constexpr const char* kSchemaVersion = "1.7";

/// The outcome of a problem.
enum class Status { kPassed, kFailed, kSkipped, kInvalid };
/// "PASSED", "FAILED", "SKIPPED", "INVALID".
std::string status_name(Status status);
/// Inverse of status_name; throws Error on an unknown name.
Status parse_status(const std::string& name);

/// One named figure with its unit; optionally statistics and the raw samples behind it.
struct Metric {
  double value = 0;
  std::string unit;    ///< SI base units: s, B, B/s, FLOP/s, FLOP/B, %, or "<things>/s"
  std::string better;  ///< "higher", "lower" or "" (informational)
  std::optional<Summary> stats;
  std::vector<double> samples;  ///< raw samples (step_time and device_time only)
};

/// Which limit explains a problem's step time (see docs/metrics.md, "Bound verdict"). Prints
/// and parses as the strings results keep: "compute", "memory", "latency", "neither",
/// "unknown", "communication", "input", "accelerator", and "-" when the evidence names none.
enum class Verdict {
  kCompute,
  kMemory,
  kLatency,
  kNeither,
  kUnknown,
  kCommunication,
  kInput,
  kAccelerator,
  kNone,
};

/// The name results keep for `verdict` ("memory").
std::string verdict_name(Verdict verdict);
/// The verdict named `name`; nullopt for any other text.
std::optional<Verdict> parse_verdict(const std::string& name);

/// A verdict and the evidence behind it.
struct Bound {
  Verdict verdict = Verdict::kUnknown;
  std::string detail;  ///< the shares of the ceilings (or the waits) that led to the verdict
};

/// Everything known about one problem's run.
struct Result {
  std::string problem;  ///< the canonical repro string
  std::string workload;
  std::map<std::string, std::string> params;
  Status status = Status::kPassed;
  std::string reason;  ///< why it is not PASSED (or a caveat)
  bool noisy = false;  ///< step-time CV above the bound
  /// Other processes or the hypervisor took CPU time the problem needed while it was measured
  /// (run.conditions says how much; docs/metrics.md, "Conditions of a measurement").
  bool contended = false;
  std::string started;
  double duration_s = 0;  ///< wall time of the whole problem, setup included
  bool isolated = false;
  WorkCounts work;
  std::map<std::string, Metric> metrics;
  CheckOutcome check;
  /// The ceilings % of peak is taken against: measured (`dlbench peak`) where available,
  /// else theoretical; `source` says which.
  std::optional<Ceiling> compute_ceiling;
  std::optional<Ceiling> bandwidth_ceiling;
  /// The theoretical (derived) ceilings, when they can be derived.
  std::optional<Ceiling> theoretical_compute_ceiling;
  std::optional<Ceiling> theoretical_bandwidth_ceiling;
  std::optional<Bound> bound;  ///< the bound verdict, when a ceiling is known
  /// Composite workloads (layer/...): one entry per part with its own repro string, count,
  /// time, share of the total and bound. Empty for ordinary workloads.
  nlohmann::json breakdown = nlohmann::json::array();
  nlohmann::json run = nlohmann::json::object();  ///< run rules used, steps measured
  /// Distributed runs: one entry per rank (host, status, its own step time and communication
  /// figures); the metrics above are the group's (docs/distributed.md). Empty on one rank.
  nlohmann::json ranks = nlohmann::json::array();
  std::vector<std::string> notes;

  /// Adds or replaces a metric.
  void set_metric(const std::string& name, double value, const std::string& unit,
                  const std::string& better);
};

/// The metric `name` of a result, or nullptr when it has none.
const Metric* find_metric(const Result& result, const std::string& name);

/// "passed", "failed" or "not_applicable", as results files spell a check's status.
std::string check_status_name(CheckOutcome::Status status);

nlohmann::json to_json(const Result& result);
/// Parses a result record; throws Error on a record that breaks the schema.
Result result_from_json(const nlohmann::json& record);

/// A results document being built and saved.
struct ResultsDocument {
  nlohmann::json context = nlohmann::json::object();
  nlohmann::json invocation = nlohmann::json::object();  ///< command line, suite, run options
  std::vector<Result> results;

  nlohmann::json to_json() const;
  /// Writes the document to `path` (core/safe_file.h): a regular file atomically (a unique
  /// temporary file in its directory, fsync, rename; a symlink stays and its target is
  /// replaced), a character device, FIFO or "-" directly; a directory is an Error.
  void save(const std::string& path) const;
  /// Loads and validates a document; throws Error naming the file and the problem.
  static ResultsDocument load(const std::string& path);
  static ResultsDocument from_json(const nlohmann::json& document, const std::string& origin);
};

}  // namespace dlbench
