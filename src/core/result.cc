#include "core/result.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/build_info.h"
#include "core/error.h"
#include "core/files.h"
#include "core/safe_file.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

std::string status_name(Status status) {
  switch (status) {
    case Status::kPassed:
      return "PASSED";
    case Status::kFailed:
      return "FAILED";
    case Status::kSkipped:
      return "SKIPPED";
    case Status::kInvalid:
      return "INVALID";
  }
  return "FAILED";
}

Status parse_status(const std::string& name) {
  for (Status s : {Status::kPassed, Status::kFailed, Status::kSkipped, Status::kInvalid}) {
    if (status_name(s) == name) return s;
  }
  throw Error("unknown status '" + name + "'");
}

namespace {

constexpr std::pair<Verdict, const char*> kVerdicts[] = {
    {Verdict::kCompute, "compute"}, {Verdict::kMemory, "memory"},
    {Verdict::kLatency, "latency"}, {Verdict::kNeither, "neither"},
    {Verdict::kUnknown, "unknown"}, {Verdict::kCommunication, "communication"},
    {Verdict::kInput, "input"},     {Verdict::kAccelerator, "accelerator"},
    {Verdict::kNone, "-"},
};

}  // namespace

std::string verdict_name(Verdict verdict) {
  for (const auto& [value, name] : kVerdicts) {
    if (value == verdict) return name;
  }
  return "unknown";
}

std::optional<Verdict> parse_verdict(const std::string& name) {
  for (const auto& [value, text] : kVerdicts) {
    if (name == text) return value;
  }
  return std::nullopt;
}

void Result::set_metric(const std::string& name, double value, const std::string& unit,
                        const std::string& better) {
  Metric& metric = metrics[name];
  metric.value = value;
  metric.unit = unit;
  metric.better = better;
}

namespace {

json summary_json(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean},     {"median", s.median}, {"min", s.min},
          {"max", s.max},     {"p50", s.p50},       {"p90", s.p90},       {"p99", s.p99},
          {"p999", s.p999},   {"stddev", s.stddev}, {"cv", s.cv}};
}

Summary summary_from_json(const json& j) {
  Summary s;
  s.count = j.at("count").get<size_t>();
  s.mean = j.at("mean").get<double>();
  s.median = j.at("median").get<double>();
  s.min = j.at("min").get<double>();
  s.max = j.at("max").get<double>();
  s.p50 = j.at("p50").get<double>();
  s.p90 = j.at("p90").get<double>();
  s.p99 = j.at("p99").get<double>();
  s.p999 = j.value("p999", s.p99);
  s.stddev = j.at("stddev").get<double>();
  s.cv = j.at("cv").get<double>();
  return s;
}

json ceiling_json(const std::optional<Ceiling>& ceiling) {
  if (!ceiling) return nullptr;
  return {{"value", ceiling->value}, {"source", ceiling->source}, {"basis", ceiling->basis}};
}

std::optional<Ceiling> ceiling_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Ceiling{j.at("value").get<double>(), j.value("source", ""), j.value("basis", "")};
}

CheckOutcome::Status parse_check_status(const std::string& name) {
  if (name == "passed") return CheckOutcome::Status::kPassed;
  if (name == "failed") return CheckOutcome::Status::kFailed;
  return CheckOutcome::Status::kNotApplicable;
}

/// "a number", "a list", ... for messages about a value of the wrong type.
std::string json_kind(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "true or false";
    case json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

/// `record[key]`, which must be an object when present; {} when absent.
json object_field(const json& record, const char* key) {
  if (!record.contains(key)) return json::object();
  const json& value = record[key];
  if (!value.is_object()) {
    throw Error(fmt::format("'{}' must be an object, not {}", key, json_kind(value)));
  }
  return value;
}

/// `record[key]`, which must be a list of objects when present; [] when absent.
json list_of_objects(const json& record, const char* key) {
  if (!record.contains(key)) return json::array();
  const json& value = record[key];
  bool valid = value.is_array() &&
               std::all_of(value.begin(), value.end(), [](const json& e) { return e.is_object(); });
  if (!valid) {
    throw Error(fmt::format("'{}' must be a list of objects, not {}", key,
                            value.is_array() ? "a list holding other values" : json_kind(value)));
  }
  return value;
}

// JSON has no NaN/Inf: write them as null.
json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

}  // namespace

const Metric* find_metric(const Result& result, const std::string& name) {
  auto it = result.metrics.find(name);
  return it == result.metrics.end() ? nullptr : &it->second;
}

std::string check_status_name(CheckOutcome::Status status) {
  switch (status) {
    case CheckOutcome::Status::kPassed:
      return "passed";
    case CheckOutcome::Status::kFailed:
      return "failed";
    case CheckOutcome::Status::kNotApplicable:
      return "not_applicable";
  }
  return "not_applicable";
}

json to_json(const Result& r) {
  json metrics = json::object();
  for (const auto& [name, m] : r.metrics) {
    json entry = {{"value", number_or_null(m.value)}, {"unit", m.unit}, {"better", m.better}};
    if (m.stats) entry["stats"] = summary_json(*m.stats);
    if (!m.samples.empty()) entry["samples"] = m.samples;
    metrics[name] = entry;
  }
  json check = {{"status", check_status_name(r.check.status)}};
  if (r.check.status != CheckOutcome::Status::kNotApplicable) {
    check["error"] = number_or_null(r.check.error);
    check["tolerance"] = r.check.tolerance;
    check["metric"] = r.check.metric;
  }
  if (!r.check.detail.empty()) check["detail"] = r.check.detail;
  if (!r.check.cause.empty()) check["cause"] = r.check.cause;
  json out = {{"problem", r.problem},
              {"workload", r.workload},
              {"params", r.params},
              {"status", status_name(r.status)},
              {"reason", r.reason},
              {"noisy", r.noisy},
              {"contended", r.contended},
              {"started", r.started},
              {"duration_s", r.duration_s},
              {"isolated", r.isolated},
              {"work",
               {{"flops_per_step", r.work.flops},
                {"bytes_per_step", r.work.bytes},
                {"samples_per_step", r.work.samples},
                {"sample_unit", r.work.sample_unit},
                {"dtype", r.work.dtype},
                {"primary_metric", r.work.primary_metric()},
                {"partial_accounting", r.work.partial_accounting},
                {"bytes_counted_at_run_time", r.work.bytes_at_run_time},
                {"cache_served_bytes", r.work.cache_served_bytes},
                {"calls_per_step", r.work.calls},
                {"array_bytes", r.work.array_bytes},
                {"comm_bytes_per_step", r.work.comm_bytes},
                {"bus_factor", r.work.bus_factor},
                {"group_counts", r.work.group_counts}}},
              {"metrics", metrics},
              {"check", check},
              {"ceilings",
               {{"compute", ceiling_json(r.compute_ceiling)},
                {"bandwidth", ceiling_json(r.bandwidth_ceiling)},
                {"theoretical_compute", ceiling_json(r.theoretical_compute_ceiling)},
                {"theoretical_bandwidth", ceiling_json(r.theoretical_bandwidth_ceiling)}}},
              {"bound", r.bound ? json{{"verdict", verdict_name(r.bound->verdict)},
                                       {"detail", r.bound->detail}}
                                : json(nullptr)},
              {"run", r.run},
              {"notes", r.notes}};
  if (!r.breakdown.empty()) out["breakdown"] = r.breakdown;
  if (!r.ranks.empty()) out["ranks"] = r.ranks;
  return out;
}

Result result_from_json(const json& j) {
  try {
    Result r;
    r.problem = j.at("problem").get<std::string>();
    r.workload = j.at("workload").get<std::string>();
    r.params = j.at("params").get<std::map<std::string, std::string>>();
    r.status = parse_status(j.at("status").get<std::string>());
    r.reason = j.at("reason").get<std::string>();
    r.noisy = j.value("noisy", false);
    r.contended = j.value("contended", false);
    r.started = j.value("started", "");
    r.duration_s = j.value("duration_s", 0.0);
    r.isolated = j.value("isolated", false);
    const json& work = j.at("work");
    r.work.flops = work.at("flops_per_step").get<double>();
    r.work.bytes = work.at("bytes_per_step").get<double>();
    r.work.samples = work.at("samples_per_step").get<double>();
    r.work.sample_unit = work.value("sample_unit", "steps");
    r.work.dtype = work.value("dtype", "fp32");
    r.work.primary = work.value("primary_metric", "");
    r.work.partial_accounting = work.value("partial_accounting", false);
    r.work.bytes_at_run_time = work.value("bytes_counted_at_run_time", false);
    r.work.cache_served_bytes = work.value("cache_served_bytes", false);
    r.work.calls = work.value("calls_per_step", 0.0);
    r.work.array_bytes = work.value("array_bytes", 0.0);
    r.work.comm_bytes = work.value("comm_bytes_per_step", 0.0);
    r.work.bus_factor = work.value("bus_factor", 0.0);
    r.work.group_counts = work.value("group_counts", false);
    for (const auto& [name, m] : j.at("metrics").items()) {
      Metric metric;
      metric.value = m.at("value").is_null() ? NAN : m.at("value").get<double>();
      metric.unit = m.at("unit").get<std::string>();
      metric.better = m.value("better", "");
      if (m.contains("stats")) metric.stats = summary_from_json(m.at("stats"));
      if (m.contains("samples")) metric.samples = m.at("samples").get<std::vector<double>>();
      r.metrics[name] = metric;
    }
    if (j.contains("check")) {
      const json& c = j.at("check");
      r.check.status = parse_check_status(c.value("status", "not_applicable"));
      if (c.contains("error"))
        r.check.error = c["error"].is_null() ? NAN : c["error"].get<double>();
      r.check.tolerance = c.value("tolerance", 0.0);
      r.check.metric = c.value("metric", "");
      r.check.detail = c.value("detail", "");
      r.check.cause = c.value("cause", "");
    }
    if (j.contains("ceilings")) {
      r.compute_ceiling = ceiling_from_json(j["ceilings"].value("compute", json(nullptr)));
      r.bandwidth_ceiling = ceiling_from_json(j["ceilings"].value("bandwidth", json(nullptr)));
      r.theoretical_compute_ceiling =
          ceiling_from_json(j["ceilings"].value("theoretical_compute", json(nullptr)));
      r.theoretical_bandwidth_ceiling =
          ceiling_from_json(j["ceilings"].value("theoretical_bandwidth", json(nullptr)));
    }
    if (j.contains("bound") && j["bound"].is_object()) {
      std::string verdict = j["bound"].value("verdict", "");
      std::optional<Verdict> parsed = parse_verdict(verdict);
      if (!parsed) throw Error("unknown bound verdict " + single_quoted(verdict));
      r.bound = Bound{*parsed, j["bound"].value("detail", "")};
    }
    r.breakdown = list_of_objects(j, "breakdown");
    r.ranks = list_of_objects(j, "ranks");
    r.run = object_field(j, "run");
    r.notes = j.value("notes", std::vector<std::string>{});
    return r;
  } catch (const json::exception& e) {
    throw Error(std::string("result record does not match the schema: ") + e.what());
  }
}

json ResultsDocument::to_json() const {
  json results_json = json::array();
  for (const auto& r : results) results_json.push_back(dlbench::to_json(r));
  return {
      {"schema_version", kSchemaVersion},
      {"tool", {{"name", "dlbench"}, {"version", DLBENCH_VERSION}, {"git_commit", git_commit()}}},
      {"invocation", invocation},
      {"context", context},
      {"results", results_json}};
}

void ResultsDocument::save(const std::string& path) const {
  write_file(path, to_json().dump(1) + "\n", WriteOptions{0644, true, "results file"});
}

ResultsDocument ResultsDocument::from_json(const json& document, const std::string& origin) {
  if (!document.is_object() || !document.contains("schema_version") ||
      !document.contains("results") || !document["results"].is_array()) {
    throw Error(origin + " is not a dlbench results file (no schema_version/results)");
  }
  std::string version = document["schema_version"].is_string()
                            ? document["schema_version"].get<std::string>()
                            : std::string("?");
  if (version.substr(0, version.find('.')) !=
      std::string(kSchemaVersion).substr(0, std::string(kSchemaVersion).find('.'))) {
    throw Error(origin + " has schema_version " + version + "; this dlbench reads " +
                kSchemaVersion);
  }
  ResultsDocument doc;
  try {
    doc.context = object_field(document, "context");
    doc.invocation = object_field(document, "invocation");
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  size_t index = 0;
  for (const auto& record : document["results"]) {
    try {
      doc.results.push_back(result_from_json(record));
    } catch (const Error& e) {
      throw Error(origin + ": result #" + std::to_string(index + 1) + ": " + e.what());
    }
    ++index;
  }
  return doc;
}

ResultsDocument ResultsDocument::load(const std::string& path) {
  return from_json(parse_json_file(path, "results file"), "results file " + single_quoted(path));
}

}  // namespace dlbench
