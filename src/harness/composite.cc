// The composite strategy (layer/...): a composite's distinct parts measured one by one as their
// own problems, summed, and derived as one step. See docs/architecture.md ("Run kinds").
#include <fmt/core.h>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "analysis/derive.h"
#include "core/registry.h"
#include "core/stats.h"
#include "core/strings.h"
#include "harness/progress.h"
#include "harness/runner.h"
#include "harness/strategies.h"

namespace dlbench {

using nlohmann::json;

void run_composite(Result& result, const Workload& composite, const RunOptions& options) {
  const Registry& registry = Registry::instance();
  struct Entry {
    Part part;
    Problem problem;
  };
  std::vector<Entry> entries;
  for (const Part& part : composite.parts()) {
    Problem raw = part.problem;
    for (const char* key : {"device", "threads", "seed"}) raw.params[key] = result.params[key];
    Problem resolved = registry.resolve(raw);
    auto same = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
      return e.problem == resolved && e.part.pass == part.pass;
    });
    if (same != entries.end()) {
      same->part.count += part.count;
    } else {
      entries.push_back({part, resolved});
    }
  }

  double total_time = 0, peak_rss = 0, peak_device = 0;
  std::vector<Result> part_results;
  std::string failed, skipped;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    set_progress_prefix(fmt::format("part {}/{} {}: ", i + 1, entries.size(), e.part.name));
    Result r = run_in_process(e.problem, options);
    set_progress_prefix("");
    if (r.status == Status::kFailed && failed.empty()) {
      failed = e.part.name + " (" + e.problem.str() + "): " + r.reason;
    }
    if (r.status == Status::kSkipped && skipped.empty()) {
      skipped = e.part.name + " (" + e.problem.str() + "): " + r.reason;
    }
    auto metric = [&](const char* name) {
      auto it = r.metrics.find(name);
      return it == r.metrics.end() ? 0.0 : it->second.value;
    };
    double time = metric(r.metrics.count("device_time") ? "device_time" : "step_time");
    total_time += e.part.count * time;
    peak_rss = std::max(peak_rss, metric("host_peak_rss"));
    result.contended |= r.contended;
    peak_device = std::max(peak_device, metric("device_peak_memory"));
    part_results.push_back(std::move(r));
  }

  // The composite's noise: each part's noise weighted by its share of the time (a noisy part
  // that takes 0.001% of the step moves the sum by nothing).
  std::vector<double> part_shares, part_noises;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const Result& r = part_results[i];
    auto metric = [&](const char* name) -> json {
      auto it = r.metrics.find(name);
      return it == r.metrics.end() ? json(nullptr) : json(it->second.value);
    };
    double time = 0;
    if (auto it = r.metrics.find(r.metrics.count("device_time") ? "device_time" : "step_time");
        it != r.metrics.end()) {
      time = it->second.value;
    }
    double share = total_time > 0 ? e.part.count * time / total_time : 0.0;
    if (const Metric* noise = find_metric(r, "noise")) {
      part_shares.push_back(share);
      part_noises.push_back(noise->value);
    }
    json entry = {{"name", e.part.name},
                  {"kind", e.part.kind},
                  {"pass", e.part.pass},
                  {"problem", e.problem.str()},
                  {"count", e.part.count},
                  {"status", status_name(r.status)},
                  {"reason", r.reason},
                  {"time_s", time},
                  {"total_time_s", e.part.count * time},
                  {"share", share},
                  {"flops_per_call", r.work.flops},
                  {"bytes_per_call", r.work.bytes},
                  {"dtype", r.work.dtype},
                  {"primary_metric", r.work.primary_metric()},
                  {"flops", metric("flops")},
                  {"bandwidth", metric("bandwidth")},
                  {"pct_peak_compute", metric("pct_peak_compute")},
                  {"pct_peak_bandwidth", metric("pct_peak_bandwidth")},
                  {"noise", metric("noise")},
                  {"contended", r.contended},
                  {"ceiling_sanity", r.run.value("ceiling_sanity", json(nullptr))},
                  {"check", check_status_name(r.check.status)},
                  {"bound", r.bound ? json{{"verdict", verdict_name(r.bound->verdict)},
                                           {"detail", r.bound->detail}}
                                    : json(nullptr)}};
    result.breakdown.push_back(entry);
  }

  if (!failed.empty()) {
    result.status = Status::kFailed;
    result.reason = "part " + failed;
  } else if (!skipped.empty()) {
    result.status = Status::kSkipped;
    result.reason = "part " + skipped;
  }
  if (!(total_time > 0)) return;
  // The composite's verdict: the bound under which most of its time is spent.
  std::map<std::string, double> time_by_bound;
  for (const auto& entry : result.breakdown) {
    std::string verdict = entry["bound"].is_object() ? entry["bound"]["verdict"].get<std::string>()
                                                     : std::string("unknown");
    time_by_bound[verdict] += entry["share"].get<double>();
  }
  std::vector<std::string> shares;
  std::string top;
  for (const auto& [verdict, share] : time_by_bound) {
    shares.push_back(fmt::format("{} {:.0f}%", verdict, 100 * share));
    if (top.empty() || share > time_by_bound[top]) top = verdict;
  }
  // The parts hold the ceilings (breakdown[]); the sum is judged by its parts' verdicts.
  Measurement summed;
  summed.step_time_s = total_time;
  derive(result, summed, Ceilings{},
         Bound{parse_verdict(top).value_or(Verdict::kUnknown),
               "share of time in parts by verdict: " + join(shares, ", ")});
  double weighted_noise = share_weighted_noise(part_shares, part_noises);
  result.set_metric("noise", weighted_noise, "%", "lower");
  result.noisy = weighted_noise > 100 * options.cv_bound;
  if (peak_rss > 0) result.set_metric("host_peak_rss", peak_rss, "B", "lower");
  if (peak_device > 0) result.set_metric("device_peak_memory", peak_device, "B", "lower");
  result.run["parts"] = entries.size();
  result.run["noise_basis"] = "parts' noise weighted by their share of the time";
  if (result.contended) {
    result.notes.push_back(
        "contended: some parts were measured while other processes or the hypervisor took CPU "
        "time they needed (breakdown[].contended)");
  }
  result.notes.push_back(fmt::format(
      "composite: {} distinct parts measured one by one; step time = sum of count x median "
      "part time (see breakdown)",
      entries.size()));
}

}  // namespace dlbench
