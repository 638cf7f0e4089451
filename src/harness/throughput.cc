// The throughput strategy: one problem's step measured under the run rules, then its probes;
// the figures come from analysis/derive.h. See docs/architecture.md ("Run kinds").
#include <fmt/core.h>
#include <algorithm>

#include "analysis/derive.h"
#include "core/stats.h"
#include "core/strings.h"
#include "core/timeline.h"
#include "harness/measure.h"
#include "harness/process_group.h"
#include "harness/strategies.h"

namespace dlbench {

using nlohmann::json;

int local_ranks_on_host() {
  dist::RankInfo me = dist::detect_rank();
  return me.distributed() && me.local_world_size > 1 ? me.local_world_size : 1;
}

void record_conditions(Result& result, const Conditions& conditions, bool dry_run) {
  result.run["conditions"] = conditions.to_json();
  if (!conditions.contended || dry_run) return;
  result.contended = true;
  result.notes.push_back("contended: " + conditions.reason +
                         "; the figures are slower than this machine is alone");
}

void run_throughput(Result& result, Workload& workload, Device& device, const RunOptions& o,
                    int threads, dist::ProblemGroup* group, Timeline& timeline) {
  if (o.dry_run) {
    result.notes.push_back("dry run: one step without warm-up; its figures are not measurements");
  }
  result.run["dispatch_s_per_call"] = trivial_call_seconds(device);
  Measured m = measure_calls([&workload] { workload.step(); }, device, o, group,
                             [&timeline] { timeline.start_measurement(); });
  // Counts a workload takes from its running step (a model's operand bytes) exist now.
  if (result.work.bytes_at_run_time) result.work = workload.work();
  Measurement measurement;
  measurement.step_times = m.wall;
  measurement.device_times = m.device_times;
  measurement.measured_seconds = m.measured_seconds;
  measurement.timeline = timeline.totals();
  measurement.dispatch_s_per_call = result.run["dispatch_s_per_call"].get<double>();
  measurement.dry_run = o.dry_run;
  derive(result, measurement, ceilings_for(result.work, result.params["device"], threads, 1));

  Summary repeats = summarize(m.repeat_medians);
  result.run["warmup_steps_done"] = m.warmup_done;
  result.run["measured_steps"] = m.measured;
  if (!o.dry_run) result.run["sampling"] = sampling_json(m);
  result.run["repeat_medians_s"] = m.repeat_medians;
  result.run["repeat_spread"] =
      repeats.median > 0 ? (repeats.max - repeats.min) / repeats.median : 0.0;
  if (m.capped) {
    result.notes.push_back(
        fmt::format("min_steps={} not reached within max_time={:g}s", o.min_steps, o.max_time));
  }
  // Noise of the reported figure: the CV of the repetition medians (a median that moves
  // between repetitions cannot be trusted); with one repetition, the CV of the steps.
  const Metric& step = result.metrics["step_time"];
  if (o.dry_run || !step.stats) return;
  bool across_repeats = m.repeat_medians.size() >= 2;
  double noise = across_repeats ? repeats.cv : step.stats->cv;
  result.set_metric("noise", 100 * noise, "%", "lower");
  result.run["noise_basis"] = across_repeats ? "cv of repetition medians" : "cv of step times";
  if (noise > o.cv_bound) {
    result.noisy = true;
    result.notes.push_back(
        fmt::format("noisy: {} {:.1f}% exceeds the {:.1f}% bound",
                    across_repeats ? "CV of the repetition medians" : "step-time CV", 100 * noise,
                    100 * o.cv_bound));
  }
}

void run_probes(Result& result, Workload& workload, Device& device, const RunOptions& o,
                dist::ProblemGroup* group) {
  std::vector<Probe> probes = workload.probes();
  if (probes.empty()) return;
  auto step_basis = [&]() -> double {
    for (const char* name : {"device_time", "step_time"}) {
      auto it = result.metrics.find(name);
      if (it != result.metrics.end()) return it->second.value;
    }
    return 0;
  };
  json described = json::array();
  for (const Probe& probe : probes) {
    Measured m = measure_calls(probe.run, device, o, group, nullptr, "probe " + probe.name);
    result.metrics[probe.name + "_time"] = time_metric(m.wall);
    double median = result.metrics[probe.name + "_time"].value;
    if (!m.device_times.empty()) {
      result.metrics[probe.name + "_device_time"] = time_metric(m.device_times);
      median = result.metrics[probe.name + "_device_time"].value;
    }
    double wall_median = result.metrics[probe.name + "_time"].value;
    if (probe.samples > 0 && wall_median > 0) {
      result.set_metric(probe.name + "_throughput", probe.samples / wall_median,
                        probe.sample_unit + "/s", "higher");
    }
    double step = step_basis();
    if (probe.share_of_step && step > 0) {
      result.set_metric(probe.name + "_share", 100 * median / step, "%", "");
    }
    described.push_back({{"name", probe.name},
                         {"description", probe.description},
                         {"samples", probe.samples},
                         {"sample_unit", probe.sample_unit},
                         {"share_of_step", probe.share_of_step},
                         {"measured_calls", m.measured},
                         {"sampling", o.dry_run ? json(nullptr) : sampling_json(m)}});
    if (m.capped) {
      result.notes.push_back(fmt::format("probe {}: min_steps={} not reached within max_time={:g}s",
                                         probe.name, o.min_steps, o.max_time));
    }
  }
  result.run["probes"] = described;
}

}  // namespace dlbench
