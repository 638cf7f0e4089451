#include "analysis/derive.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "analysis/bound.h"
#include "analysis/ceilings.h"
#include "core/error.h"
#include "core/stats.h"
#include "core/strings.h"
#include "core/system_info.h"

namespace dlbench {

using nlohmann::json;

const std::vector<std::string>& derived_metric_names() {
  static const std::vector<std::string> names = {
      // From the step times and the work counts.
      "step_time", "device_time", "throughput", "device_throughput", "flops", "pct_peak_compute",
      "pct_theoretical_compute", "bandwidth", "pct_peak_bandwidth", "pct_theoretical_bandwidth",
      "arithmetic_intensity",
      // A collective's bandwidths (nccl-tests).
      "algbw", "busbw",
      // The input pipeline.
      "input_stall_share", "loader_throughput", "accelerator_utilization",
      // Data-parallel communication.
      "comm_time", "exposed_comm_time", "compute_time", "comm_share", "exposed_comm_share",
      "gradient_allreduce_algbw"};
  return names;
}

namespace {

/// The notes derive() writes start with one of these; deriving again replaces them.
const std::vector<std::string>& derived_note_prefixes() {
  static const std::vector<std::string> prefixes = {
      "in cache: ", "provisional ceiling: ", "ceiling stale: ", "above the theoretical "};
  return prefixes;
}

/// Writes a derived metric; a name missing from derived_metric_names() is a programming error
/// (a merge would keep it stale), caught by every test that derives.
void set_derived(Result& result, const std::string& name, double value, const std::string& unit,
                 const std::string& better) {
  const std::vector<std::string>& names = derived_metric_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw Error("derive: the metric " + name + " is missing from derived_metric_names()");
  }
  result.set_metric(name, value, unit, better);
}

/// The names of a rate and of its shares of the two ceilings of its kind.
struct RateNames {
  const char* rate;
  const char* unit;
  const char* pct_of_ceiling;
  const char* pct_of_theoretical;
};

/// A rate (FLOP/s, B/s) and its % of the ceiling and of the theoretical ceiling, where known.
void add_rate(Result& result, const RateNames& names, double rate,
              const std::optional<Ceiling>& ceiling, const std::optional<Ceiling>& theoretical) {
  set_derived(result, names.rate, rate, names.unit, "higher");
  if (ceiling) {
    set_derived(result, names.pct_of_ceiling, 100.0 * rate / ceiling->value, "%", "higher");
  }
  if (theoretical) {
    set_derived(result, names.pct_of_theoretical, 100.0 * rate / theoretical->value, "%", "higher");
  }
}

/// One rank's ceiling times the ranks of a group (each rank has its own device or threads).
std::optional<Ceiling> times_ranks(std::optional<Ceiling> ceiling, int ranks) {
  if (!ceiling || ranks <= 1) return ceiling;
  ceiling->value *= ranks;
  ceiling->basis = fmt::format("{} ranks x ({})", ranks, ceiling->basis);
  return ceiling;
}

/// The last-level cache a device's kernels stream through: the CPU's largest data cache, a
/// GPU's L2; 0 when unknown.
double last_level_cache_bytes(const std::string& device_name) {
  if (device_name == "cpu") return cpu_info().last_level_cache_bytes;
  if (!starts_with(device_name, "cuda")) return 0;
  size_t colon = device_name.find(':');
  size_t index = colon == std::string::npos
                     ? 0
                     : static_cast<size_t>(parse_int(device_name.substr(colon + 1)).value_or(0));
  std::vector<GpuInfo> gpus = gpu_info();
  return index < gpus.size() ? gpus[index].l2_bytes : 0;
}

void judge_ceilings(Result& result, const Ceilings& ceilings, std::optional<Bound>& roofline) {
  const std::string& device_name = ceilings.device;
  const int threads = ceilings.threads;
  json sanity = json::object();
  const WorkCounts& work = result.work;
  const double llc = ceilings.last_level_cache_bytes;
  // Bytes that caches may serve (a model's layer operands, hot embedding rows, or a step whose
  // bytes fit in 4 x the last-level cache): moving them faster than memory's ceiling says they
  // were in cache, not that the ceiling is stale.
  const bool small_step = !(work.array_bytes > 0) && llc > 0 && work.bytes > 0 &&
                          work.bytes < kStreamCacheMultiple * llc;
  bool in_cache = false;
  if (work.array_bytes > 0) {
    if (llc > 0 && work.array_bytes < kStreamCacheMultiple * llc) {
      in_cache = true;
      sanity["bandwidth"] = {{"verdict", "in_cache"},
                             {"array_bytes", work.array_bytes},
                             {"last_level_cache_bytes", llc},
                             {"rule", "each array >= 4 x the last-level cache (STREAM)"}};
      result.notes.push_back(fmt::format(
          "in cache: each array is {}, under 4 x the {} last-level cache (STREAM's rule), so this "
          "is the cache's bandwidth, not memory's; arrays of at least {} measure memory",
          format_bytes(work.array_bytes), format_bytes(llc),
          format_bytes(kStreamCacheMultiple * llc)));
      if (roofline) roofline->detail += "; in cache (STREAM's array-size rule)";
    }
  }
  auto judge = [&](const char* kind, const char* metric, const std::optional<Ceiling>& ceiling,
                   const std::optional<Ceiling>& theoretical, const char* theoretical_metric) {
    const Metric* pct = find_metric(result, metric);
    const bool bandwidth = std::string(kind) == "bandwidth";
    if (bandwidth && (work.cache_served_bytes || small_step)) {
      const Metric* theory = find_metric(result, theoretical_metric);
      bool above = pct && ceiling && pct->value > kStaleCeilingPct;
      bool above_theory = theory && theoretical && theory->value > kStaleCeilingPct;
      json verdict = work.cache_served_bytes
                         ? json{{"verdict", "operands_in_cache"}}
                         : json{{"verdict", "in_cache"},
                                {"bytes_per_step", work.bytes},
                                {"last_level_cache_bytes", llc},
                                {"rule", "bytes per step under 4 x the last-level cache"}};
      if (above) {
        sanity["bandwidth"] = verdict;
        sanity["bandwidth"]["pct"] = pct->value;
      }
      if (above_theory) {
        sanity["theoretical_bandwidth"] = verdict;
        sanity["theoretical_bandwidth"]["pct"] = theory->value;
      }
      if (above || above_theory) {
        double shown = above ? pct->value : theory->value;
        const char* source = above ? ceiling->source.c_str() : "theoretical";
        result.notes.push_back(
            work.cache_served_bytes
                ? fmt::format("in cache: the counted bytes moved at {:.1f}% of the {} bandwidth "
                              "ceiling, so caches served some of them; the bandwidth figure is "
                              "not memory's",
                              shown, source)
                : fmt::format("in cache: the step's {} fit in 4 x the {} last-level cache and "
                              "moved at {:.1f}% of the {} bandwidth ceiling: this is the cache's "
                              "bandwidth, not memory's",
                              format_bytes(work.bytes), format_bytes(llc), shown, source));
        if (roofline) roofline->detail += "; partly served from cache";
      }
      return;
    }
    if (pct && ceiling && ceiling->source == "measured" && pct->value > kStaleCeilingPct &&
        !(in_cache && bandwidth)) {
      sanity[kind] = {{"verdict", "above_measured_ceiling"}, {"pct", pct->value}};
      json stale = {{"device", device_name}, {"threads", threads}, {"ceiling", kind}};
      if (std::string(kind) == "compute") stale["dtype"] = work.dtype;
      result.run["stale_ceilings"].push_back(stale);
      result.notes.push_back(fmt::format(
          "ceiling stale: {:.1f}% of the measured {} ceiling (more than {:.0f}%): the ceiling was "
          "measured too low (on a busy machine, or with peak --quick); it is marked stale and "
          "`dlbench peak` measures it again",
          pct->value, kind, kStaleCeilingPct));
    }
    const Metric* theory = find_metric(result, theoretical_metric);
    if (theory && theoretical && theory->value > kStaleCeilingPct && !(in_cache && bandwidth)) {
      sanity[std::string("theoretical_") + kind] = {{"verdict", "above_theoretical_ceiling"},
                                                    {"pct", theory->value}};
      result.notes.push_back(fmt::format(
          "above the theoretical {} ceiling ({:.1f}% of it): its derivation ({}) does not fit "
          "this machine",
          kind, theory->value, theoretical->basis));
    }
  };
  for (const std::optional<Ceiling>* ceiling :
       {&result.compute_ceiling, &result.bandwidth_ceiling}) {
    if (*ceiling && (*ceiling)->basis.find("[provisional") != std::string::npos) {
      sanity["provisional"] = true;
    }
  }
  if (sanity.value("provisional", false)) {
    result.notes.push_back(
        "provisional ceiling: measured by `dlbench peak --quick` (short run rules), so % of "
        "peak is indicative; `dlbench peak` measures it fully");
  }
  judge("compute", "pct_peak_compute", result.compute_ceiling, result.theoretical_compute_ceiling,
        "pct_theoretical_compute");
  judge("bandwidth", "pct_peak_bandwidth", result.bandwidth_ceiling,
        result.theoretical_bandwidth_ceiling, "pct_theoretical_bandwidth");
  if (!sanity.empty()) result.run["ceiling_sanity"] = sanity;
}

/// Step and device time, throughput, FLOP/s, bandwidth, % of each ceiling, arithmetic
/// intensity and a collective's bandwidths; the roofline and collective evidence.
void add_step_figures(Result& result, const Measurement& m, const Ceilings& ceilings,
                      BoundEvidence& evidence) {
  const WorkCounts& work = result.work;
  const bool summed = m.step_times.empty();
  double wall_median = m.step_time_s;
  if (summed) {
    Metric step;
    step.value = m.step_time_s;
    step.unit = "s";
    step.better = "lower";
    result.metrics["step_time"] = step;
  } else {
    result.metrics["step_time"] = time_metric(m.step_times);
    wall_median = result.metrics["step_time"].value;
  }
  // The time the device needed: device events on accelerators, the wall clock on the CPU.
  double median = wall_median;
  if (!m.device_times.empty()) {
    result.metrics["device_time"] = time_metric(m.device_times);
    median = result.metrics["device_time"].value;
  }
  if (!(median > 0)) return;

  set_derived(result, "throughput", work.samples / wall_median, work.sample_unit + "/s", "higher");
  if (!summed) {
    std::vector<double> rates;
    rates.reserve(m.step_times.size());
    for (double t : m.step_times) rates.push_back(t > 0 ? work.samples / t : 0);
    result.metrics["throughput"].stats = summarize(rates);
  }
  if (!m.device_times.empty()) {
    set_derived(result, "device_throughput", work.samples / median, work.sample_unit + "/s",
                "higher");
  }
  if (work.flops > 0) {
    add_rate(result, {"flops", "FLOP/s", "pct_peak_compute", "pct_theoretical_compute"},
             work.flops / median, result.compute_ceiling, result.theoretical_compute_ceiling);
  }
  if (work.bytes > 0) {
    add_rate(result, {"bandwidth", "B/s", "pct_peak_bandwidth", "pct_theoretical_bandwidth"},
             work.bytes / median, result.bandwidth_ceiling, result.theoretical_bandwidth_ceiling);
  }
  std::optional<DispatchFloor> floor;
  if (m.dispatch_s_per_call > 0) {
    floor = DispatchFloor{m.dispatch_s_per_call, std::max(1.0, work.calls)};
  }
  evidence.roofline =
      classify_bound(work, median, result.compute_ceiling, result.bandwidth_ceiling, floor);
  if (work.flops > 0 && work.bytes > 0) {
    set_derived(result, "arithmetic_intensity", work.flops / work.bytes, "FLOP/B", "");
  }
  // A collective (nccl-tests: algbw = size / time, busbw = algbw x the collective's factor).
  if (work.comm_bytes > 0) {
    double algbw = work.comm_bytes / median;
    set_derived(result, "algbw", algbw, "B/s", "higher");
    set_derived(result, "busbw", algbw * work.bus_factor, "B/s", "higher");
    evidence.collective =
        Bound{Verdict::kCommunication,
              fmt::format("a collective: its time is the interconnect's and the copies and "
                          "reductions it makes; bus bandwidth {}",
                          format_si(algbw * work.bus_factor, "B/s"))};
  }
}

/// The input pipeline's figures over the measured steps (docs/metrics.md, "Input pipeline"):
/// stall share, loader throughput, accelerator utilisation when the step's compute time is
/// emulated, and the input evidence. A problem with an `au_threshold` parameter (io/...) is
/// INVALID when its accelerator utilisation falls below it (not in a dry run: one step without
/// warm-up says nothing about a rate).
void add_input_figures(Result& result, const Measurement& m, BoundEvidence& evidence) {
  const TimelineTotals& timeline = m.timeline;
  const double measured = m.measured_seconds;
  const double compute_seconds = timeline.emulated_compute_s;
  // io/... problems state the accelerator utilisation they must keep (MLPerf Storage: 90%):
  // their input-bound threshold is its complement.
  std::optional<double> au_threshold;
  if (auto it = result.params.find("au_threshold"); it != result.params.end()) {
    au_threshold = parse_double(it->second);
  }
  InputFigures figures =
      input_figures(timeline, measured, au_threshold ? 100 - *au_threshold : 10.0);
  // Batches arrive in bursts when the loader is behind, so the median step says little: the
  // throughput of a loader-fed problem is what it consumed over the measured time.
  if (measured > 0 && timeline.samples > 0) {
    set_derived(result, "throughput", timeline.samples / measured, result.work.sample_unit + "/s",
                "higher");
  }
  set_derived(result, "input_stall_share", figures.stall_share, "%", "lower");
  if (figures.loader_samples_per_s > 0) {
    set_derived(result, "loader_throughput", figures.loader_samples_per_s, "samples/s", "higher");
  }
  json input = {{"workers", timeline.input_workers},
                {"prefetch", timeline.input_prefetch},
                {"batches", timeline.batches},
                {"samples", static_cast<int64_t>(timeline.samples)},
                {"wait_s", timeline.input_wait_s},
                {"load_s", timeline.input_load_s},
                {"measured_s", measured},
                {"input_bound", figures.input_bound},
                {"throughput_basis", "samples consumed / measured time"}};
  if (figures.accelerator_utilization) {
    double au = *figures.accelerator_utilization;
    set_derived(result, "accelerator_utilization", au, "%", "higher");
    input["emulated_compute_s"] = compute_seconds;
    if (au_threshold) {
      input["au_threshold"] = *au_threshold;
      if (au < *au_threshold && result.status == Status::kPassed && !m.dry_run) {
        result.status = Status::kInvalid;
        result.reason = fmt::format(
            "accelerator utilisation {:.1f}% is below the {:.0f}% threshold: the storage and "
            "loader do not sustain this rate",
            au, *au_threshold);
      }
    }
  }
  result.run["input"] = input;
  if (figures.input_bound) {
    evidence.input =
        Bound{Verdict::kInput, fmt::format("input stall {:.1f}% of the measured time: the "
                                           "loader cannot keep up; add workers or cheapen "
                                           "decode",
                                           figures.stall_share)};
  } else if (compute_seconds > 0) {
    evidence.input = Bound{Verdict::kAccelerator,
                           fmt::format("input stall {:.1f}%: the storage and loader keep the "
                                       "emulated accelerator busy",
                                       figures.stall_share)};
  }
}

/// The communication figures of a data-parallel step (docs/distributed.md): per-step
/// communication time (some collective in flight), its share of the measured time, the exposed
/// part (the step waited for it after the backward pass), the compute time (the step without
/// the exposed part), and the communication evidence when the exposed part is at least half the
/// step (the step waits on the network longer than it computes).
void add_comm_figures(Result& result, const Measurement& m, BoundEvidence& evidence) {
  const TimelineTotals& timeline = m.timeline;
  const double measured = m.measured_seconds;
  if (timeline.comm_steps <= 0 || !(measured > 0)) return;
  double steps = static_cast<double>(timeline.comm_steps);
  set_derived(result, "comm_time", timeline.comm_busy_s / steps, "s", "lower");
  set_derived(result, "exposed_comm_time", timeline.comm_exposed_s / steps, "s", "lower");
  set_derived(result, "compute_time", (measured - timeline.comm_exposed_s) / steps, "s", "lower");
  double share = 100 * timeline.comm_busy_s / measured;
  double exposed = 100 * timeline.comm_exposed_s / measured;
  set_derived(result, "comm_share", share, "%", "lower");
  set_derived(result, "exposed_comm_share", exposed, "%", "lower");
  if (timeline.comm_busy_s > 0) {
    set_derived(result, "gradient_allreduce_algbw", timeline.comm_bytes / timeline.comm_busy_s,
                "B/s", "higher");
  }
  result.run["comm"] = {{"steps", timeline.comm_steps},         {"calls", timeline.comm_calls},
                        {"bytes", timeline.comm_bytes},         {"busy_s", timeline.comm_busy_s},
                        {"exposed_s", timeline.comm_exposed_s}, {"measured_s", measured},
                        {"backend", timeline.comm_backend}};
  if (exposed >= 100 * kBoundShare) {
    evidence.communication =
        Bound{Verdict::kCommunication,
              fmt::format("exposed communication {:.1f}% of the step (communication in flight "
                          "{:.1f}%): the step waits on the network longer than it computes",
                          exposed, share)};
  }
}

/// The one place a result's bound verdict is written.
void apply_verdict(Result& result, const BoundEvidence& evidence) {
  result.bound = decide_bound(evidence);
}

}  // namespace

Metric time_metric(const std::vector<double>& samples) {
  Metric metric;
  metric.stats = summarize(samples);
  metric.value = metric.stats->median;
  metric.unit = "s";
  metric.better = "lower";
  metric.samples = evenly_kept(samples, kMaxStoredSamples);
  return metric;
}

InputFigures input_figures(const TimelineTotals& input, double measured_wall_seconds,
                           double stall_threshold_percent) {
  InputFigures figures;
  if (measured_wall_seconds > 0) {
    figures.stall_share = 100.0 * input.input_wait_s / measured_wall_seconds;
    if (input.emulated_compute_s > 0) {
      figures.accelerator_utilization = 100.0 * static_cast<double>(input.batches) *
                                        input.emulated_compute_s / measured_wall_seconds;
    }
  }
  if (input.input_load_s > 0) {
    figures.loader_samples_per_s =
        input.samples / (input.input_load_s / std::max(1, input.input_workers));
  }
  figures.input_bound = figures.stall_share > stall_threshold_percent;
  return figures;
}

Ceilings ceilings_for(const WorkCounts& work, const std::string& device, int threads, int ranks) {
  Ceilings ceilings;
  ceilings.device = device;
  ceilings.threads = threads;
  ceilings.last_level_cache_bytes = last_level_cache_bytes(device);
  if (work.flops > 0) {
    ceilings.theoretical_compute = times_ranks(compute_ceiling(device, work.dtype, threads), ranks);
    ceilings.compute = times_ranks(measured_compute_ceiling(device, work.dtype, threads), ranks);
    if (!ceilings.compute) ceilings.compute = ceilings.theoretical_compute;
  }
  if (work.bytes > 0) {
    ceilings.theoretical_bandwidth = times_ranks(bandwidth_ceiling(device), ranks);
    ceilings.bandwidth = times_ranks(measured_bandwidth_ceiling(device, threads), ranks);
    if (!ceilings.bandwidth) ceilings.bandwidth = ceilings.theoretical_bandwidth;
  }
  return ceilings;
}

std::optional<Bound> decide_bound(const BoundEvidence& evidence) {
  for (const std::optional<Bound>* candidate :
       {&evidence.composite, &evidence.communication, &evidence.input, &evidence.collective,
        &evidence.roofline}) {
    if (*candidate) return *candidate;
  }
  return std::nullopt;
}

void derive(Result& result, const Measurement& measurement, const Ceilings& ceilings,
            const std::optional<Bound>& composite) {
  // Whatever an earlier derivation wrote goes first.
  for (const std::string& name : derived_metric_names()) result.metrics.erase(name);
  for (const char* key : {"ceiling_sanity", "stale_ceilings", "input", "comm"}) {
    result.run.erase(key);
  }
  result.notes.erase(std::remove_if(result.notes.begin(), result.notes.end(),
                                    [](const std::string& note) {
                                      for (const std::string& prefix : derived_note_prefixes()) {
                                        if (starts_with(note, prefix)) return true;
                                      }
                                      return false;
                                    }),
                     result.notes.end());
  result.compute_ceiling = ceilings.compute;
  result.bandwidth_ceiling = ceilings.bandwidth;
  result.theoretical_compute_ceiling = ceilings.theoretical_compute;
  result.theoretical_bandwidth_ceiling = ceilings.theoretical_bandwidth;

  BoundEvidence evidence;
  evidence.composite = composite;
  add_step_figures(result, measurement, ceilings, evidence);
  judge_ceilings(result, ceilings, evidence.roofline);
  if (measurement.timeline.has_input) add_input_figures(result, measurement, evidence);
  add_comm_figures(result, measurement, evidence);
  apply_verdict(result, evidence);
}

void derive_quality_input(Result& result, const TimelineTotals& training, double train_seconds) {
  BoundEvidence evidence;
  InputFigures input = input_figures(training, train_seconds);
  set_derived(result, "input_stall_share", input.stall_share, "%", "lower");
  if (input.loader_samples_per_s > 0) {
    set_derived(result, "loader_throughput", input.loader_samples_per_s, "samples/s", "higher");
  }
  evidence.input = Bound{
      input.input_bound ? Verdict::kInput : Verdict::kNone,
      fmt::format("input stall {:.1f}% of training time ({} {:.0f}%: {})", input.stall_share,
                  input.input_bound ? ">" : "<=", kInputStallBoundPct,
                  input.input_bound ? "the loader cannot keep up; add workers or cheapen decode"
                                    : "the loader keeps up")};
  apply_verdict(result, evidence);
}

Measurement measurement_of(const Result& result) {
  Measurement m;
  if (const Metric* step = find_metric(result, "step_time")) {
    m.step_times = step->samples;
    if (m.step_times.empty()) m.step_time_s = step->value;
  }
  if (const Metric* device = find_metric(result, "device_time")) m.device_times = device->samples;
  m.dispatch_s_per_call = result.run.value("dispatch_s_per_call", 0.0);
  m.dry_run = result.run.value("dry_run", false);
  if (result.run.contains("input") && result.run["input"].is_object()) {
    const json& input = result.run["input"];
    TimelineTotals& t = m.timeline;
    t.has_input = true;
    t.input_workers = input.value("workers", 0);
    t.input_prefetch = input.value("prefetch", 0);
    t.batches = input.value("batches", int64_t{0});
    t.samples = input.value("samples", 0.0);
    t.input_wait_s = input.value("wait_s", 0.0);
    t.input_load_s = input.value("load_s", 0.0);
    t.emulated_compute_s = input.value("emulated_compute_s", 0.0);
    m.measured_seconds = input.value("measured_s", 0.0);
  }
  if (result.run.contains("comm") && result.run["comm"].is_object()) {
    const json& comm = result.run["comm"];
    TimelineTotals& t = m.timeline;
    t.comm_steps = comm.value("steps", int64_t{0});
    t.comm_calls = comm.value("calls", int64_t{0});
    t.comm_bytes = comm.value("bytes", 0.0);
    t.comm_busy_s = comm.value("busy_s", 0.0);
    t.comm_exposed_s = comm.value("exposed_s", 0.0);
    t.comm_backend = comm.value("backend", "");
    m.measured_seconds = comm.value("measured_s", m.measured_seconds);
  }
  return m;
}

}  // namespace dlbench
