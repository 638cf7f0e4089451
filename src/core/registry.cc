#include "core/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/strings.h"
#include "core/system_info.h"

namespace dlbench {

CheckOutcome CheckOutcome::compare(double error, double tolerance, std::string metric,
                                   std::string detail) {
  CheckOutcome outcome;
  outcome.error = error;
  outcome.tolerance = tolerance;
  outcome.metric = std::move(metric);
  outcome.detail = std::move(detail);
  outcome.status = (error <= tolerance) ? Status::kPassed : Status::kFailed;  // NaN fails
  return outcome;
}

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

void Registry::add(WorkloadInfo info, WorkloadFactory factory) {
  if (contains(info.name)) {
    std::fprintf(stderr, "dlbench: workload '%s' registered twice\n", info.name.c_str());
    std::abort();
  }
  entries_.push_back({std::move(info), std::move(factory)});
}

bool Registry::contains(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.info.name == name; });
}

const Registry::Entry& Registry::entry(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.info.name == name) return e;
  }
  std::vector<std::string> names;
  for (const auto& e : entries_) {
    if (!e.info.hidden) names.push_back(e.info.name);
  }
  std::string suggestion = nearest(name, names);
  throw Error("unknown workload " + single_quoted(name) +
              (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)") +
              "; 'dlbench list' shows them all");
}

const WorkloadInfo& Registry::info(const std::string& name) const { return entry(name).info; }

std::vector<const WorkloadInfo*> Registry::list(bool include_hidden) const {
  std::vector<const WorkloadInfo*> out;
  for (const auto& e : entries_) {
    if (include_hidden || !e.info.hidden) out.push_back(&e.info);
  }
  std::sort(out.begin(), out.end(),
            [](const WorkloadInfo* a, const WorkloadInfo* b) { return a->name < b->name; });
  return out;
}

std::vector<ParamSpec> common_params() {
  return {
      ParamSpec::text("device", "cpu", "where to run: cpu, cuda or cuda:N"),
      ParamSpec::integer("threads", default_thread_count(),
                         "intra-op CPU threads (default: the physical cores available)", 1,
                         max_thread_count()),
      ParamSpec::integer("seed", 0, "random seed for inputs and initialisation", 0),
  };
}

std::vector<ParamSpec> Registry::params_of(const WorkloadInfo& info) const {
  std::vector<ParamSpec> all = info.params;
  for (auto& common : common_params()) all.push_back(common);
  return all;
}

namespace {
std::string normalize_device(const std::string& value, const std::string& workload) {
  if (value == "cpu" || value == "cuda") return value;
  if (starts_with(value, "cuda:")) {
    auto index = parse_int(value.substr(5));
    if (index && *index >= 0) return "cuda:" + std::to_string(*index);
  }
  throw Error(workload + ": bad value " + single_quoted(value) +
              " for parameter 'device': expected cpu, cuda or cuda:N");
}

/// threads=N, normalised, within max_thread_count() (with a message that says why).
std::string normalize_threads(const ParamSpec& spec, const std::string& value,
                              const std::string& workload) {
  auto threads = parse_int(value);
  if (threads) {
    std::string problem = thread_count_problem(*threads);
    if (!problem.empty()) {
      throw Error(workload + ": bad value " + single_quoted(value) +
                  " for parameter 'threads': " + problem);
    }
  }
  return spec.normalize(value, workload);
}
}  // namespace

Problem Registry::resolve(const Problem& raw) const {
  const WorkloadInfo& workload = info(raw.workload);
  std::vector<ParamSpec> specs = params_of(workload);
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);

  Problem resolved;
  resolved.workload = workload.name;
  for (const auto& [key, value] : raw.params) {
    auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == key; });
    if (spec == specs.end()) {
      std::string suggestion = nearest(key, names);
      throw Error(workload.name + ": unknown parameter " + single_quoted(key) +
                  (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)") +
                  "; valid: " + join(names, ", "));
    }
    resolved.params[key] = key == "device"    ? normalize_device(value, workload.name)
                           : key == "threads" ? normalize_threads(*spec, value, workload.name)
                                              : spec->normalize(value, workload.name);
  }
  for (const auto& spec : specs) {
    if (!resolved.params.count(spec.name)) resolved.params[spec.name] = spec.default_value;
  }
  return resolved;
}

std::unique_ptr<Workload> Registry::create(const Problem& resolved) const {
  return entry(resolved.workload).factory(resolved);
}

}  // namespace dlbench

namespace dlbench {

WorkCounts CompositeWorkload::work() const {
  WorkCounts total;
  total.samples = samples();
  total.sample_unit = sample_unit();
  total.dtype = dtype();
  total.primary = "throughput";
  const Registry& registry = Registry::instance();
  for (const Part& part : parts()) {
    WorkCounts w = registry.create(registry.resolve(part.problem))->work();
    total.flops += part.count * w.flops;
    total.bytes += part.count * w.bytes;
  }
  return total;
}

void CompositeWorkload::setup(ExecContext&) {
  throw Error(problem_.workload + " is a composite: the harness runs its parts, not the whole");
}

void CompositeWorkload::step() {
  throw Error(problem_.workload + " is a composite: the harness runs its parts, not the whole");
}

}  // namespace dlbench
