#include "core/runner.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <new>
#include <optional>

#include "analysis/bound.h"
#include "core/ceilings.h"
#include "core/contention.h"
#include "core/device.h"
#include "core/error.h"
#include "core/process_group.h"
#include "core/progress.h"
#include "core/registry.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "data/loader.h"
#include "train/quality.h"

namespace dlbench {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json RunOptions::to_json() const {
  return {{"warmup_steps", warmup_steps},
          {"warmup_time", warmup_time},
          {"min_steps", min_steps},
          {"min_time", min_time},
          {"max_time", max_time},
          {"repeats", repeats},
          {"cv_bound", cv_bound},
          {"dry_run", dry_run},
          {"isolate", isolate},
          {"timeout", timeout},
          {"check", check},
          {"mllog", mllog},
          {"group", group.active() ? group.to_json() : json(nullptr)}};
}

RunOptions RunOptions::from_json(const json& j) {
  RunOptions o;
  o.warmup_steps = j.value("warmup_steps", o.warmup_steps);
  o.warmup_time = j.value("warmup_time", o.warmup_time);
  o.min_steps = j.value("min_steps", o.min_steps);
  o.min_time = j.value("min_time", o.min_time);
  o.max_time = j.value("max_time", o.max_time);
  o.repeats = j.value("repeats", o.repeats);
  o.cv_bound = j.value("cv_bound", o.cv_bound);
  o.dry_run = j.value("dry_run", o.dry_run);
  o.isolate = j.value("isolate", o.isolate);
  o.timeout = j.value("timeout", o.timeout);
  o.check = j.value("check", o.check);
  o.mllog = j.value("mllog", o.mllog);
  if (j.contains("group") && j["group"].is_object())
    o.group = dist::GroupSpec::from_json(j["group"]);
  return o;
}

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Times one call: host wall clock around call + synchronise; device events where available.
struct StepTiming {
  double wall = 0;
  double device = NAN;
};

StepTiming timed_call(const std::function<void()>& call, Device& device, DeviceTimer* timer,
                      int64_t repetitions = 1) {
  StepTiming timing;
  auto start = Clock::now();
  if (timer) timer->start();
  for (int64_t i = 0; i < repetitions; ++i) call();
  if (timer) timer->stop();
  device.synchronize();
  timing.wall = seconds_since(start);
  if (timer) timing.device = timer->elapsed_seconds();
  return timing;
}

/// The times of one call measured under the run rules. A sample is the mean step time of
/// `steps_per_sample` consecutive steps timed together.
struct Measured {
  std::vector<double> wall, device_times, repeat_medians;
  int warmup_done = 0;
  int64_t measured = 0;          ///< steps measured (samples x steps_per_sample)
  double measured_seconds = 0;   ///< wall time of the measured steps, all repetitions
  int64_t steps_per_sample = 1;  ///< steps timed together in one sample
  double timer_overhead = 0;     ///< median cost of timing one empty sample, seconds
  double sample_floor = 0;       ///< the shortest a sample may last, seconds
  bool capped = false;           ///< min_steps not reached within max_time
};

/// Whether a rank's loop goes on: the vote each rank casts before a step. In a group the
/// highest vote wins (an allreduce-max), so every rank runs the same steps: one that hit
/// max_time stops them all, one that still needs steps keeps them all going.
enum Vote : int { kDone = 0, kMore = 1, kCapped = 2 };

int agreed(int mine, dist::ProblemGroup* group) { return group ? group->max(mine) : mine; }

/// The median cost of timing an empty sample on `device` (clock reads, timer events and the
/// synchronisation): what every sample carries besides its steps.
double timer_overhead_seconds(Device& device, DeviceTimer* timer) {
  std::vector<double> costs;
  for (int i = 0; i < kTimerOverheadCalls; ++i) {
    costs.push_back(timed_call([] {}, device, timer).wall);
  }
  return summarize(costs).median;
}

/// Warm-up, then `repeats` repetitions of at least min_steps steps and min_time seconds each
/// (a dry run: one call, no warm-up). Steps shorter than the sample floor (the larger of
/// kMinSampleSeconds and kSampleFloorOverheads x the timer's own cost) are timed in groups of
/// `steps_per_sample`, chosen from the warm-up's median step, so the clock's cost stays under
/// 1% of every sample. In a distributed problem the ranks vote before every sample (outside the
/// timed region) and agree on steps_per_sample, so every rank makes the same calls.
Measured measure_calls(const std::function<void()>& call, Device& device, const RunOptions& o,
                       const std::function<void()>& on_measure_start = nullptr,
                       const std::string& label = "") {
  const std::string prefix = label.empty() ? "" : label + ": ";
  dist::ProblemGroup* group = dist::current_group();
  std::unique_ptr<DeviceTimer> timer = device.make_timer();
  Measured m;
  if (o.dry_run) {
    if (on_measure_start) on_measure_start();
    if (group) group->barrier();
    StepTiming t = timed_call(call, device, timer.get());
    m.wall.push_back(t.wall);
    if (timer) m.device_times.push_back(t.device);
    m.measured = 1;
    m.measured_seconds = t.wall;
    m.repeat_medians.push_back(t.wall);
    return m;
  }
  std::vector<double> warmup_times;
  auto warmup_start = Clock::now();
  while (true) {
    double elapsed = seconds_since(warmup_start);
    int vote = elapsed > o.max_time                                          ? kDone
               : (m.warmup_done < o.warmup_steps || elapsed < o.warmup_time) ? kMore
                                                                             : kDone;
    if (agreed(vote, group) != kMore) break;
    StepTiming t = timed_call(call, device, timer.get());
    if (warmup_times.size() < 100000) warmup_times.push_back(t.wall);
    ++m.warmup_done;
    report_progress(strprintf("%swarm-up, step %d", prefix.c_str(), m.warmup_done));
  }
  if (warmup_times.empty()) {
    // No warm-up asked for: one call, not measured, tells how long a step takes.
    if (agreed(kMore, group) == kMore) {
      warmup_times.push_back(timed_call(call, device, timer.get()).wall);
      ++m.warmup_done;
    }
  }
  m.timer_overhead = timer_overhead_seconds(device, timer.get());
  m.sample_floor = std::max(kMinSampleSeconds, kSampleFloorOverheads * m.timer_overhead);
  double step_estimate = warmup_times.empty() ? 0 : summarize(warmup_times).median;
  int64_t per_sample = 1;
  if (!warmup_times.empty() && step_estimate < m.sample_floor) {
    per_sample = static_cast<int64_t>(
        std::ceil(m.sample_floor / std::max(step_estimate, kMinSampleSeconds * 1e-6)));
  }
  per_sample = std::clamp<int64_t>(per_sample, 1, kMaxStepsPerSample);
  if (group) per_sample = group->max(static_cast<int>(per_sample));
  m.steps_per_sample = per_sample;

  if (on_measure_start) on_measure_start();
  const int repeats = std::max(1, o.repeats);
  // What one repetition should take: min_time, or min_steps at the warm-up's pace, capped.
  double repeat_estimate =
      std::min(o.max_time, std::max(o.min_time, o.min_steps * std::max(step_estimate, 0.0)));
  std::vector<double> recent;  // the last samples' wall times, while steps are grouped
  for (int repeat = 0; repeat < repeats; ++repeat) {
    std::vector<double> this_repeat;
    int64_t steps = 0;
    auto start = Clock::now();
    while (true) {
      double so_far = seconds_since(start);
      double left =
          (repeats - repeat - 1) * repeat_estimate + std::max(0.0, repeat_estimate - so_far);
      report_progress(strprintf("%srepetition %d/%d, step %lld; about %s left", prefix.c_str(),
                                repeat + 1, repeats, static_cast<long long>(steps),
                                format_seconds(left).c_str()));
      double elapsed = seconds_since(start);
      int vote = (steps < o.min_steps || elapsed < o.min_time) ? kMore : kDone;
      if (vote == kMore && steps > 0 && elapsed > o.max_time) vote = kCapped;
      vote = agreed(vote, group);
      if (vote == kCapped) m.capped |= steps < o.min_steps;
      if (vote != kMore) break;
      StepTiming t = timed_call(call, device, timer.get(), per_sample);
      double per_step = t.wall / static_cast<double>(per_sample);
      this_repeat.push_back(per_step);
      m.wall.push_back(per_step);
      if (timer) m.device_times.push_back(t.device / static_cast<double>(per_sample));
      m.measured_seconds += t.wall;
      steps += per_sample;
      // Steps steadily slower than the warm-up promised (the median of the last 5 samples
      // over 10 x the floor; one preempted sample is not enough): time fewer together from the
      // next sample on. One rank alone; a group keeps the count it agreed on.
      if (!group && per_sample > 1) {
        recent.push_back(t.wall);
        if (recent.size() > 5) recent.erase(recent.begin());
        double typical = summarize(recent).median;
        if (recent.size() == 5 && typical > 10 * m.sample_floor) {
          per_sample = std::clamp<int64_t>(
              static_cast<int64_t>(std::ceil(m.sample_floor * per_sample / typical)), 1,
              per_sample);
          m.steps_per_sample = per_sample;
          recent.clear();
        }
      }
    }
    m.measured += steps;
    m.repeat_medians.push_back(summarize(this_repeat).median);
    repeat_estimate = seconds_since(start);
  }
  return m;
}

/// The sampling rule of a measurement, for result.run (docs/metrics.md, "Samples").
json sampling_json(const Measured& m) {
  return {{"steps_per_sample", m.steps_per_sample},
          {"sample_floor_s", m.sample_floor},
          {"timer_overhead_s", m.timer_overhead},
          {"samples", m.wall.size()},
          {"samples_stored_max", kMaxStoredSamples}};
}

/// The cost of one trivial operator call on `device` (an in-place add on a one-element tensor):
/// the best of a few batches of kDispatchCalls calls, each ended by one synchronisation. The
/// least a step's calls can take whatever they compute. Measured once per device and process.
double trivial_call_seconds(Device& device) {
  static std::map<std::string, double> cache;
  auto found = cache.find(device.name());
  if (found != cache.end()) return found->second;
  // The cheapest real operator call: an add of two one-element tensors into a preallocated
  // output (a Python-style scalar add would allocate a wrapped-number tensor per call, and
  // measure more than dispatch).
  at::TensorOptions options = at::TensorOptions().dtype(at::kFloat).device(device.torch_device());
  at::Tensor a = at::ones({1}, options), b = at::ones({1}, options), out = at::zeros({1}, options);
  // Warmed up first, as a step is: cold code and caches would make the floor look higher.
  timed_call([&] { at::add_out(out, a, b); }, device, nullptr, 10 * kDispatchCalls);
  double best = INFINITY;
  for (int batch = 0; batch < 5; ++batch) {
    StepTiming t = timed_call([&] { at::add_out(out, a, b); }, device, nullptr, kDispatchCalls);
    best = std::min(best, t.wall / kDispatchCalls);
  }
  cache[device.name()] = best;
  return best;
}

/// True for the errors c10d raises when a peer is gone or late: the group's own failures, not
/// the problem's.
bool is_comm_failure(const std::string& message) {
  for (const char* marker :
       {"gloo", "Gloo", "NCCL", "Connection reset", "Connection closed", "Connection refused",
        "Timed out", "timed out", "did not form", "rendezvous store"}) {
    if (message.find(marker) != std::string::npos) return true;
  }
  return false;
}

bool is_out_of_memory(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("Out of memory") != std::string::npos ||
         message.find("DefaultCPUAllocator: can't allocate memory") != std::string::npos;
}

/// A per-step time metric: its median and statistics over every sample, and at most
/// kMaxStoredSamples of the samples, evenly kept.
Metric time_metric(const std::vector<double>& samples) {
  Metric metric;
  metric.stats = summarize(samples);
  metric.value = metric.stats->median;
  metric.unit = "s";
  metric.better = "lower";
  metric.samples = evenly_kept(samples, kMaxStoredSamples);
  return metric;
}

/// Derives throughput, FLOP/s, bandwidth and % of ceilings from the step times.
/// One rank's ceiling times the ranks of a group (each rank has its own device or threads).
std::optional<Ceiling> times_ranks(std::optional<Ceiling> ceiling, int ranks) {
  if (!ceiling || ranks <= 1) return ceiling;
  ceiling->value *= ranks;
  ceiling->basis = strprintf("%d ranks x (%s)", ranks, ceiling->basis.c_str());
  return ceiling;
}

/// Algorithm and bus bandwidth of a collective (nccl-tests: algbw = size / time, busbw =
/// algbw x the collective's factor) from the median step time, and its bound verdict.
void add_collective_metrics(Result& result, double median) {
  const WorkCounts& work = result.work;
  if (!(work.comm_bytes > 0) || !(median > 0)) return;
  double algbw = work.comm_bytes / median;
  result.set_metric("algbw", algbw, "B/s", "higher");
  result.set_metric("busbw", algbw * work.bus_factor, "B/s", "higher");
  result.bound = Bound{"communication",
                       strprintf("a collective: its time is the interconnect's and the copies and "
                                 "reductions it makes; bus bandwidth %s",
                                 format_si(algbw * work.bus_factor, "B/s").c_str())};
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

/// Ceiling sanity (docs/metrics.md, "Ceiling sanity"): no figure may beat its ceiling. A figure
/// above kStaleCeilingPct of a measured ceiling means the ceiling is stale (measured on a busy
/// machine, or with quick rules): the result is flagged and the ceiling listed in
/// run.stale_ceilings, which `dlbench run` marks in the cache so the next `dlbench peak`
/// measures it again. A STREAM-like array under 4x the last-level cache is flagged "in cache"
/// instead (its figure is the cache's bandwidth). Above a theoretical ceiling, the derivation
/// (the clock, the rate table) is wrong for this machine.
void judge_ceilings(Result& result, const std::string& device_name, int threads) {
  // Judged again from scratch when a merge derives the figures again.
  result.run.erase("ceiling_sanity");
  result.run.erase("stale_ceilings");
  result.notes.erase(std::remove_if(result.notes.begin(), result.notes.end(),
                                    [](const std::string& note) {
                                      return starts_with(note, "in cache: ") ||
                                             starts_with(note, "provisional ceiling: ") ||
                                             starts_with(note, "ceiling stale: ") ||
                                             starts_with(note, "above the theoretical ");
                                    }),
                     result.notes.end());
  json sanity = json::object();
  const WorkCounts& work = result.work;
  const double llc = last_level_cache_bytes(device_name);
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
      result.notes.push_back(strprintf(
          "in cache: each array is %s, under 4 x the %s last-level cache (STREAM's rule), so this "
          "is the cache's bandwidth, not memory's; arrays of at least %s measure memory",
          format_bytes(work.array_bytes).c_str(), format_bytes(llc).c_str(),
          format_bytes(kStreamCacheMultiple * llc).c_str()));
      if (result.bound) result.bound->detail += "; in cache (STREAM's array-size rule)";
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
                ? strprintf("in cache: the counted bytes moved at %.1f%% of the %s bandwidth "
                            "ceiling, so caches served some of them; the bandwidth figure is "
                            "not memory's",
                            shown, source)
                : strprintf("in cache: the step's %s fit in 4 x the %s last-level cache and "
                            "moved at %.1f%% of the %s bandwidth ceiling: this is the cache's "
                            "bandwidth, not memory's",
                            format_bytes(work.bytes).c_str(), format_bytes(llc).c_str(), shown,
                            source));
        if (result.bound) result.bound->detail += "; partly served from cache";
      }
      return;
    }
    if (pct && ceiling && ceiling->source == "measured" && pct->value > kStaleCeilingPct &&
        !(in_cache && bandwidth)) {
      sanity[kind] = {{"verdict", "above_measured_ceiling"}, {"pct", pct->value}};
      json stale = {{"device", device_name}, {"threads", threads}, {"ceiling", kind}};
      if (std::string(kind) == "compute") stale["dtype"] = work.dtype;
      result.run["stale_ceilings"].push_back(stale);
      result.notes.push_back(strprintf(
          "ceiling stale: %.1f%% of the measured %s ceiling (more than %.0f%%): the ceiling was "
          "measured too low (on a busy machine, or with peak --quick); it is marked stale and "
          "`dlbench peak` measures it again",
          pct->value, kind, kStaleCeilingPct));
    }
    const Metric* theory = find_metric(result, theoretical_metric);
    if (theory && theoretical && theory->value > kStaleCeilingPct && !(in_cache && bandwidth)) {
      sanity[std::string("theoretical_") + kind] = {{"verdict", "above_theoretical_ceiling"},
                                                    {"pct", theory->value}};
      result.notes.push_back(strprintf(
          "above the theoretical %s ceiling (%.1f%% of it): its derivation (%s) does not fit "
          "this machine",
          kind, theory->value, theoretical->basis.c_str()));
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

void add_derived_metrics(Result& result, const std::vector<double>& wall,
                         const std::vector<double>& device_times, int threads, int ranks = 1) {
  const WorkCounts& work = result.work;
  result.metrics["step_time"] = time_metric(wall);
  const Summary& wall_stats = *result.metrics["step_time"].stats;

  // The time the device needed: device events on accelerators, the wall clock on the CPU.
  double median = wall_stats.median;
  if (!device_times.empty()) {
    result.metrics["device_time"] = time_metric(device_times);
    median = result.metrics["device_time"].value;
  }
  if (!(median > 0)) return;

  auto per_second_stats = [&](double amount) {
    std::vector<double> rates;
    rates.reserve(wall.size());
    for (double t : wall) rates.push_back(t > 0 ? amount / t : 0);
    return summarize(rates);
  };
  Metric& throughput = result.metrics["throughput"];
  throughput.value = work.samples / wall_stats.median;
  throughput.unit = work.sample_unit + "/s";
  throughput.better = "higher";
  throughput.stats = per_second_stats(work.samples);
  if (!device_times.empty()) {
    result.set_metric("device_throughput", work.samples / median, work.sample_unit + "/s",
                      "higher");
  }
  const std::string& device_name = result.params["device"];
  if (work.flops > 0) {
    result.set_metric("flops", work.flops / median, "FLOP/s", "higher");
    result.theoretical_compute_ceiling =
        times_ranks(compute_ceiling(device_name, work.dtype, threads), ranks);
    result.compute_ceiling =
        times_ranks(measured_compute_ceiling(device_name, work.dtype, threads), ranks);
    if (!result.compute_ceiling) result.compute_ceiling = result.theoretical_compute_ceiling;
    if (result.compute_ceiling) {
      result.set_metric("pct_peak_compute",
                        100.0 * work.flops / median / result.compute_ceiling->value, "%", "higher");
    }
    if (result.theoretical_compute_ceiling) {
      result.set_metric("pct_theoretical_compute",
                        100.0 * work.flops / median / result.theoretical_compute_ceiling->value,
                        "%", "higher");
    }
  }
  if (work.bytes > 0) {
    result.set_metric("bandwidth", work.bytes / median, "B/s", "higher");
    result.theoretical_bandwidth_ceiling = times_ranks(bandwidth_ceiling(device_name), ranks);
    result.bandwidth_ceiling = times_ranks(measured_bandwidth_ceiling(device_name, threads), ranks);
    if (!result.bandwidth_ceiling) result.bandwidth_ceiling = result.theoretical_bandwidth_ceiling;
    if (result.bandwidth_ceiling) {
      result.set_metric("pct_peak_bandwidth",
                        100.0 * work.bytes / median / result.bandwidth_ceiling->value, "%",
                        "higher");
    }
    if (result.theoretical_bandwidth_ceiling) {
      result.set_metric("pct_theoretical_bandwidth",
                        100.0 * work.bytes / median / result.theoretical_bandwidth_ceiling->value,
                        "%", "higher");
    }
  }
  std::optional<DispatchFloor> floor;
  if (double per_call = result.run.value("dispatch_s_per_call", 0.0); per_call > 0) {
    floor = DispatchFloor{per_call, std::max(1.0, work.calls)};
  }
  result.bound =
      classify_bound(work, median, result.compute_ceiling, result.bandwidth_ceiling, floor);
  if (work.flops > 0 && work.bytes > 0) {
    result.set_metric("arithmetic_intensity", work.flops / work.bytes, "FLOP/B", "");
  }
  add_collective_metrics(result, median);
  judge_ceilings(result, device_name, threads);
}

/// The input pipeline's figures over the measured steps (docs/metrics.md, "Input pipeline"):
/// stall share, loader throughput, accelerator utilisation when the step's compute time is
/// emulated, and the input-bound verdict. A problem with an `au_threshold` parameter (io/...)
/// is INVALID when its accelerator utilisation falls below it (not in a dry run: one step
/// without warm-up says nothing about a rate).
void add_input_metrics(Result& result, const data::Loader& loader, double measured,
                       double compute_seconds, bool dry_run) {
  data::LoaderStats stats = loader.stats();
  // io/... problems state the accelerator utilisation they must keep (MLPerf Storage: 90%):
  // their input-bound threshold is its complement.
  std::optional<double> au_threshold;
  if (auto it = result.params.find("au_threshold"); it != result.params.end()) {
    au_threshold = parse_double(it->second);
  }
  data::InputFigures figures = data::input_figures(stats, measured, compute_seconds,
                                                   au_threshold ? 100 - *au_threshold : 10.0);
  // Batches arrive in bursts when the loader is behind, so the median step says little: the
  // throughput of a loader-fed problem is what it consumed over the measured time.
  if (measured > 0 && stats.samples > 0) {
    result.set_metric("throughput", stats.samples / measured, result.work.sample_unit + "/s",
                      "higher");
  }
  result.set_metric("input_stall_share", figures.stall_share, "%", "lower");
  if (figures.loader_samples_per_s > 0) {
    result.set_metric("loader_throughput", figures.loader_samples_per_s, "samples/s", "higher");
  }
  json input = {{"workers", loader.options().workers},
                {"prefetch", loader.options().prefetch},
                {"batches", stats.batches},
                {"samples", stats.samples},
                {"wait_s", stats.wait_seconds},
                {"load_s", stats.load_seconds},
                {"measured_s", measured},
                {"input_bound", figures.input_bound},
                {"throughput_basis", "samples consumed / measured time"}};
  if (figures.accelerator_utilization) {
    double au = *figures.accelerator_utilization;
    result.set_metric("accelerator_utilization", au, "%", "higher");
    input["emulated_compute_s"] = compute_seconds;
    if (au_threshold) {
      input["au_threshold"] = *au_threshold;
      if (au < *au_threshold && result.status == Status::kPassed && !dry_run) {
        result.status = Status::kInvalid;
        result.reason = strprintf(
            "accelerator utilisation %.1f%% is below the %.0f%% threshold: the storage and "
            "loader do not sustain this rate",
            au, *au_threshold);
      }
    }
  }
  result.run["input"] = input;
  if (figures.input_bound) {
    result.bound = Bound{"input", strprintf("input stall %.1f%% of the measured time: the loader "
                                            "cannot keep up; add workers or cheapen decode",
                                            figures.stall_share)};
  } else if (compute_seconds > 0) {
    result.bound = Bound{"accelerator",
                         strprintf("input stall %.1f%%: the storage and loader keep the emulated "
                                   "accelerator busy",
                                   figures.stall_share)};
  }
}

/// The communication-bound verdict of a data-parallel result: when its exposed communication is
/// at least half the step, the step waits on the network longer than it computes. `measured`
/// says how the share was measured ("communication in flight 20.6%", "mean over 2 ranks").
void apply_communication_verdict(Result& result, const std::string& measured) {
  const Metric* exposed = find_metric(result, "exposed_comm_share");
  if (!exposed || !(exposed->value >= 100 * kBoundShare)) return;
  result.bound = Bound{"communication",
                       strprintf("exposed communication %.1f%% of the step (%s): the step waits "
                                 "on the network longer than it computes",
                                 exposed->value, measured.c_str())};
}

/// The communication figures of a data-parallel step (docs/distributed.md): per-step
/// communication time (some collective in flight), its share of the measured time, the exposed
/// part (the step waited for it after the backward pass), the compute time (the step without
/// the exposed part), and the communication-bound verdict when the exposed part is at least
/// half the step (the step waits on the network longer than it computes).
void add_comm_metrics(Result& result, const CommTally& tally, double measured) {
  if (tally.steps <= 0) return;
  if (!(measured > 0)) return;
  double steps = static_cast<double>(tally.steps);
  result.set_metric("comm_time", tally.busy_seconds / steps, "s", "lower");
  result.set_metric("exposed_comm_time", tally.exposed_seconds / steps, "s", "lower");
  result.set_metric("compute_time", (measured - tally.exposed_seconds) / steps, "s", "lower");
  double share = 100 * tally.busy_seconds / measured;
  double exposed = 100 * tally.exposed_seconds / measured;
  result.set_metric("comm_share", share, "%", "lower");
  result.set_metric("exposed_comm_share", exposed, "%", "lower");
  if (tally.busy_seconds > 0) {
    result.set_metric("gradient_allreduce_algbw", tally.bytes / tally.busy_seconds, "B/s",
                      "higher");
  }
  result.run["comm"] = {{"steps", tally.steps},
                        {"calls", tally.calls},
                        {"bytes", tally.bytes},
                        {"busy_s", tally.busy_seconds},
                        {"exposed_s", tally.exposed_seconds},
                        {"measured_s", measured},
                        {"backend", tally.backend}};
  apply_communication_verdict(result, strprintf("communication in flight %.1f%%", share));
}

/// Ranks of this run on this host: their CPU time is the run's own, not contention.
int local_ranks_on_host() {
  dist::RankInfo me = dist::detect_rank();
  return me.distributed() && me.local_world_size > 1 ? me.local_world_size : 1;
}

/// Records what the machine did during the measurement (run.conditions) and flags the result
/// contended, with a note saying why. A dry run is recorded, never flagged.
void record_conditions(Result& result, const Conditions& conditions, bool dry_run) {
  result.run["conditions"] = conditions.to_json();
  if (!conditions.contended || dry_run) return;
  result.contended = true;
  result.notes.push_back("contended: " + conditions.reason +
                         "; the figures are slower than this machine is alone");
}

void run_measurement(Result& result, Workload& workload, Device& device, const RunOptions& o,
                     int threads) {
  if (o.dry_run) {
    result.notes.push_back("dry run: one step without warm-up; its figures are not measurements");
  }
  const data::Loader* loader = workload.input_loader();
  result.run["dispatch_s_per_call"] = trivial_call_seconds(device);
  Measured m = measure_calls([&workload] { workload.step(); }, device, o,
                             [loader, &workload] {
                               if (loader) const_cast<data::Loader*>(loader)->reset_stats();
                               workload.reset_comm_tally();
                             });
  // Counts a workload takes from its running step (a model's operand bytes) exist now.
  if (result.work.bytes_at_run_time) result.work = workload.work();
  add_derived_metrics(result, m.wall, m.device_times, threads);
  if (loader) {
    add_input_metrics(result, *loader, m.measured_seconds, workload.emulated_compute_seconds(),
                      o.dry_run);
  }
  add_comm_metrics(result, workload.comm_tally(), m.measured_seconds);

  Summary repeats = summarize(m.repeat_medians);
  result.run["warmup_steps_done"] = m.warmup_done;
  result.run["measured_steps"] = m.measured;
  if (!o.dry_run) result.run["sampling"] = sampling_json(m);
  result.run["repeat_medians_s"] = m.repeat_medians;
  result.run["repeat_spread"] =
      repeats.median > 0 ? (repeats.max - repeats.min) / repeats.median : 0.0;
  if (m.capped) {
    result.notes.push_back(
        strprintf("min_steps=%d not reached within max_time=%gs", o.min_steps, o.max_time));
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
        strprintf("noisy: %s %.1f%% exceeds the %.1f%% bound",
                  across_repeats ? "CV of the repetition medians" : "step-time CV", 100 * noise,
                  100 * o.cv_bound));
  }
}

/// Measures each of the workload's probes under the same run rules: `<name>_time` (wall clock,
/// percentiles, raw samples), `<name>_device_time` on accelerators, `<name>_throughput` and
/// `<name>_share` of the step's median (device time where measured, else wall) when asked.
void run_probes(Result& result, Workload& workload, Device& device, const RunOptions& o) {
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
    Measured m = measure_calls(probe.run, device, o, nullptr, "probe " + probe.name);
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
      result.notes.push_back(strprintf("probe %s: min_steps=%d not reached within max_time=%gs",
                                       probe.name.c_str(), o.min_steps, o.max_time));
    }
  }
  result.run["probes"] = described;
}

/// Runs every distinct part of a composite workload as its own problem (same run rules) and
/// sums: the composite's step time is the sum over parts of count x median part time.
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
    set_progress_prefix(strprintf("part %zu/%zu %s: ", i + 1, entries.size(), e.part.name.c_str()));
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
    json entry = {
        {"name", e.part.name},
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
        {"bound", r.bound ? json{{"verdict", r.bound->verdict}, {"detail", r.bound->detail}}
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
  const WorkCounts& work = result.work;
  Metric step;
  step.value = total_time;
  step.unit = "s";
  step.better = "lower";
  result.metrics["step_time"] = step;
  result.set_metric("throughput", work.samples / total_time, work.sample_unit + "/s", "higher");
  if (work.flops > 0) result.set_metric("flops", work.flops / total_time, "FLOP/s", "higher");
  if (work.bytes > 0) result.set_metric("bandwidth", work.bytes / total_time, "B/s", "higher");
  if (work.flops > 0 && work.bytes > 0) {
    result.set_metric("arithmetic_intensity", work.flops / work.bytes, "FLOP/B", "");
  }
  double weighted_noise = share_weighted_noise(part_shares, part_noises);
  result.set_metric("noise", weighted_noise, "%", "lower");
  result.noisy = weighted_noise > 100 * options.cv_bound;
  if (peak_rss > 0) result.set_metric("host_peak_rss", peak_rss, "B", "lower");
  if (peak_device > 0) result.set_metric("device_peak_memory", peak_device, "B", "lower");
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
    shares.push_back(strprintf("%s %.0f%%", verdict.c_str(), 100 * share));
    if (top.empty() || share > time_by_bound[top]) top = verdict;
  }
  result.bound = Bound{top, "share of time in parts by verdict: " + join(shares, ", ")};
  result.run["parts"] = entries.size();
  result.run["noise_basis"] = "parts' noise weighted by their share of the time";
  if (result.contended) {
    result.notes.push_back(
        "contended: some parts were measured while other processes or the hypervisor took CPU "
        "time they needed (breakdown[].contended)");
  }
  result.notes.push_back(strprintf(
      "composite: %zu distinct parts measured one by one; step time = sum of count x median "
      "part time (see breakdown)",
      entries.size()));
}

}  // namespace

Result run_in_process(const Problem& resolved, const RunOptions& options) {
  Result result;
  result.problem = resolved.str();
  result.workload = resolved.workload;
  result.params = resolved.params;
  result.started = utc_timestamp();
  result.run = options.to_json();
  auto problem_start = Clock::now();

  std::unique_ptr<Workload> workload;
  std::unique_ptr<dist::ProblemGroup> group;
  std::optional<dist::CurrentGroupScope> group_scope;
  bool set_up = false;
  try {
    workload = Registry::instance().create(resolved);
    if (options.group.active()) {
      bool quality = resolved.params.count("mode") && resolved.get("mode") == "quality";
      if (quality || !workload->parts().empty()) {
        throw Unsupported(
            std::string(quality ? "quality runs (mode=quality)" : "layer composites") +
            " run on one rank; drop --nproc (or run one rank) for this problem");
      }
      group = std::make_unique<dist::ProblemGroup>(options.group);
      group_scope.emplace(group.get());
      result.run["rank"] = options.group.rank;
      result.run["world_size"] = options.group.world_size;
      workload = Registry::instance().create(resolved);  // again, seeing its group
    }
    result.work = workload->work();
    int threads = static_cast<int>(resolved.get_int("threads"));
    uint64_t seed = static_cast<uint64_t>(resolved.get_int("seed"));
    set_thread_count(threads);
    result.run["threads_effective"] = at::get_num_threads();
    result.run["blas_threads_effective"] = active_blas().threads;
    torch::manual_seed(seed);

    if (resolved.params.count("mode") && resolved.get("mode") == "quality") {
      workload.reset();  // each run of a quality problem sets up its own instance
      ConditionsMonitor monitor(threads, local_ranks_on_host());
      train::run_quality_problem(result, resolved, options);
      record_conditions(result, monitor.finish(), options.dry_run);
      result.duration_s = seconds_since(problem_start);
      return result;
    }
    // Each rank of a host takes its own GPU: "cuda" means cuda:<local rank> in a group.
    std::string device_name = resolved.get("device");
    if (group && device_name == "cuda") {
      device_name = "cuda:" + std::to_string(options.group.local_rank);
    }
    std::unique_ptr<Device> device = Device::create(device_name);
    if (!workload->parts().empty()) {
      run_composite(result, *workload, options);
      result.duration_s = seconds_since(problem_start);
      return result;
    }
    if (!reset_host_peak_rss()) {
      result.notes.push_back(
          "host peak RSS could not be reset (/proc/self/clear_refs refused): it covers the whole "
          "process, not this problem alone");
    }
    device->reset_peak_memory();
    ExecContext context{*device, threads, seed};
    report_progress("setting up");
    workload->setup(context);
    set_up = true;
    ConditionsMonitor monitor(threads, local_ranks_on_host());
    run_measurement(result, *workload, *device, options, threads);
    run_probes(result, *workload, *device, options);
    record_conditions(result, monitor.finish(), options.dry_run);
    // Peaks of the measured run, before the check allocates its reference tensors.
    result.set_metric("host_peak_rss", host_peak_rss_bytes(), "B", "lower");
    if (auto peak = device->peak_memory_bytes()) {
      result.set_metric("device_peak_memory", *peak, "B", "lower");
    }
    if (options.check) {
      report_progress("checking the output against its reference");
      result.check = workload->check();
      device->synchronize();
      if (result.check.status == CheckOutcome::Status::kFailed) {
        result.status = Status::kFailed;
        result.reason =
            strprintf("correctness check failed: %s = %g exceeds tolerance %g",
                      result.check.metric.c_str(), result.check.error, result.check.tolerance);
        if (!result.check.cause.empty()) result.reason += "; " + result.check.cause;
      }
    }
    workload->teardown();
    set_up = false;
  } catch (const Unsupported& e) {
    result.status = Status::kSkipped;
    result.reason = first_line(e.what());
  } catch (const std::bad_alloc&) {
    result.status = Status::kFailed;
    result.reason = "out of memory (allocation failed)";
  } catch (const std::exception& e) {
    std::string message = first_line(e.what());
    result.status = Status::kFailed;
    result.reason = is_out_of_memory(message) ? "out of memory: " + message : message;
    if (options.group.active() && is_comm_failure(message)) {
      result.reason = strprintf(
          "communication with the other ranks failed (a peer died, hung or "
          "failed first): %s",
          message.c_str());
      result.run["comm_failure"] = true;
    }
  }
  if (set_up) {
    try {
      workload->teardown();
    } catch (...) {
    }
  }
  result.duration_s = seconds_since(problem_start);
  return result;
}

namespace {

json metric_or_null(const Result& r, const char* name) {
  const Metric* m = find_metric(r, name);
  return m && std::isfinite(m->value) ? json(m->value) : json(nullptr);
}

/// The step-by-step maximum over ranks of a per-step sample metric, or empty when some rank
/// lacks it or the ranks measured different step counts.
std::vector<double> slowest_rank_samples(const std::vector<Result>& per_rank, const char* name) {
  std::vector<double> out;
  for (const Result& r : per_rank) {
    const Metric* m = find_metric(r, name);
    if (!m || m->samples.empty()) return {};
    if (out.empty()) {
      out = m->samples;
    } else if (out.size() != m->samples.size()) {
      return {};
    } else {
      for (size_t k = 0; k < out.size(); ++k) out[k] = std::max(out[k], m->samples[k]);
    }
  }
  return out;
}

}  // namespace

Result merge_rank_results(const std::vector<Result>& per_rank,
                          const std::vector<std::string>& hosts) {
  if (per_rank.empty()) throw Error("merge_rank_results: no results");
  const int ranks = static_cast<int>(per_rank.size());
  Result merged = per_rank.front();
  merged.ranks = json::array();
  for (int r = 0; r < ranks; ++r) {
    const Result& one = per_rank[r];
    merged.ranks.push_back({{"rank", r},
                            {"host", r < static_cast<int>(hosts.size()) ? hosts[r] : ""},
                            {"status", status_name(one.status)},
                            {"reason", one.reason},
                            {"step_time_s", metric_or_null(one, "step_time")},
                            {"throughput", metric_or_null(one, "throughput")},
                            {"comm_time_s", metric_or_null(one, "comm_time")},
                            {"exposed_comm_time_s", metric_or_null(one, "exposed_comm_time")},
                            {"comm_share", metric_or_null(one, "comm_share")},
                            {"busbw", metric_or_null(one, "busbw")},
                            {"host_peak_rss", metric_or_null(one, "host_peak_rss")},
                            {"device_peak_memory", metric_or_null(one, "device_peak_memory")},
                            {"measured_steps", one.run.value("measured_steps", json(nullptr))},
                            {"check", check_status_name(one.check.status)},
                            {"check_error", one.check.status == CheckOutcome::Status::kNotApplicable
                                                ? json(nullptr)
                                                : json(one.check.error)}});
  }
  merged.run["world_size"] = ranks;
  merged.run.erase("rank");
  merged.duration_s = 0;
  for (const Result& one : per_rank)
    merged.duration_s = std::max(merged.duration_s, one.duration_s);

  // Status: a failed rank fails the problem. The reason names the ranks, the ones that failed
  // on their own first: a rank whose peers vanished only reports the communication error.
  std::vector<std::string> causes, echoes;
  bool any_skipped = false, any_invalid = false;
  for (int r = 0; r < ranks; ++r) {
    const Result& one = per_rank[r];
    if (one.status == Status::kSkipped) any_skipped = true;
    if (one.status == Status::kInvalid) any_invalid = true;
    if (one.status != Status::kFailed) continue;
    std::string line =
        strprintf("rank %d (%s): %s", r,
                  r < static_cast<int>(hosts.size()) ? hosts[r].c_str() : "?", one.reason.c_str());
    (one.run.value("comm_failure", false) ? echoes : causes).push_back(line);
  }
  if (!causes.empty() || !echoes.empty()) {
    merged.status = Status::kFailed;
    std::vector<std::string> all = causes;
    all.insert(all.end(), echoes.begin(), echoes.end());
    merged.reason = join(all, "; ");
    return merged;
  }
  if (any_skipped) {
    for (const Result& one : per_rank) {
      if (one.status == Status::kSkipped) {
        merged.status = Status::kSkipped;
        merged.reason = one.reason;
        return merged;
      }
    }
  }
  if (any_invalid && merged.status != Status::kInvalid) {
    for (const Result& one : per_rank) {
      if (one.status == Status::kInvalid) {
        merged.status = Status::kInvalid;
        merged.reason = one.reason;
        break;
      }
    }
  }

  // The check: wrong elements (or non-finite values) summed over ranks.
  double check_error = 0;
  bool checked = false, check_failed = false;
  for (const Result& one : per_rank) {
    if (one.check.status == CheckOutcome::Status::kNotApplicable) continue;
    checked = true;
    check_error += one.check.error;
    check_failed |= one.check.status == CheckOutcome::Status::kFailed;
  }
  if (checked) {
    merged.check.error = check_error;
    merged.check.status =
        check_failed ? CheckOutcome::Status::kFailed : CheckOutcome::Status::kPassed;
    merged.check.detail = strprintf("summed over %d ranks; ", ranks) + merged.check.detail;
  }

  // Timing: a step ends when the slowest rank ends.
  std::vector<double> wall = slowest_rank_samples(per_rank, "step_time");
  if (wall.empty()) {
    merged.notes.push_back(
        "the ranks measured different step counts: the figures are rank 0's, not the group's");
    return merged;
  }
  std::vector<double> device_times = slowest_rank_samples(per_rank, "device_time");
  if (!merged.work.group_counts) {
    merged.work.flops *= ranks;
    merged.work.bytes *= ranks;
    merged.work.samples *= ranks;
  }
  // Keep what only one rank can say (input pipeline, probes); derive the rest again.
  for (const char* name :
       {"step_time", "device_time", "throughput", "device_throughput", "flops", "pct_peak_compute",
        "pct_theoretical_compute", "bandwidth", "pct_peak_bandwidth", "pct_theoretical_bandwidth",
        "algbw", "busbw", "arithmetic_intensity"}) {
    merged.metrics.erase(name);
  }
  merged.bound.reset();
  int threads = 1;
  if (auto it = merged.params.find("threads"); it != merged.params.end()) {
    threads = static_cast<int>(parse_double(it->second).value_or(1));
  }
  add_derived_metrics(merged, wall, device_times, threads, ranks);
  // Communication of data-parallel steps: the mean over ranks.
  for (const char* name : {"comm_time", "exposed_comm_time", "compute_time", "comm_share",
                           "exposed_comm_share", "gradient_allreduce_algbw"}) {
    double sum = 0;
    int count = 0;
    for (const Result& one : per_rank) {
      if (const Metric* m = find_metric(one, name)) {
        sum += m->value;
        ++count;
      }
    }
    if (count == ranks) merged.metrics[name].value = sum / count;
  }
  apply_communication_verdict(merged, strprintf("mean over %d ranks", ranks));
  // Noise: the noisiest rank's, and its note, so that figure and note agree.
  double noise = 0;
  int noisiest = 0;
  for (int r = 0; r < ranks; ++r) {
    const Result& one = per_rank[r];
    if (const Metric* m = find_metric(one, "noise"); m && m->value > noise) {
      noise = m->value;
      noisiest = r;
    }
    merged.noisy |= one.noisy;
    merged.contended |= one.contended;
  }
  if (find_metric(merged, "noise")) merged.metrics["noise"].value = noise;
  auto is_noisy_note = [](const std::string& note) { return starts_with(note, "noisy: "); };
  merged.notes.erase(std::remove_if(merged.notes.begin(), merged.notes.end(), is_noisy_note),
                     merged.notes.end());
  for (const std::string& note : per_rank[noisiest].notes) {
    if (is_noisy_note(note)) {
      merged.notes.push_back(note + strprintf(" (rank %d, the noisiest of %d)", noisiest, ranks));
    }
  }
  merged.notes.push_back(strprintf(
      "%d ranks: step time of each step is the slowest rank's; work counts are the group's%s",
      ranks,
      merged.work.group_counts ? " (a collective's)"
                               : strprintf(" (%d x one rank's)", ranks).c_str()));
  return merged;
}

}  // namespace dlbench
