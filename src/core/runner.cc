#include "core/runner.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <new>
#include <optional>

#include "analysis/bound.h"
#include "core/ceilings.h"
#include "core/device.h"
#include "core/error.h"
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
          {"mllog", mllog}};
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
  return o;
}

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Times one step: host wall clock around step + synchronise; device events where available.
struct StepTiming {
  double wall = 0;
  double device = NAN;
};

StepTiming timed_call(const std::function<void()>& call, Device& device, DeviceTimer* timer) {
  StepTiming timing;
  auto start = Clock::now();
  if (timer) timer->start();
  call();
  if (timer) timer->stop();
  device.synchronize();
  timing.wall = seconds_since(start);
  if (timer) timing.device = timer->elapsed_seconds();
  return timing;
}

/// The times of one call measured under the run rules.
struct Measured {
  std::vector<double> wall, device_times, repeat_medians;
  int warmup_done = 0;
  int measured = 0;
  bool capped = false;  ///< min_steps not reached within max_time
};

/// Warm-up, then `repeats` repetitions of at least min_steps calls and min_time seconds each
/// (a dry run: one call, no warm-up).
Measured measure_calls(const std::function<void()>& call, Device& device, const RunOptions& o,
                       const std::function<void()>& on_measure_start = nullptr) {
  std::unique_ptr<DeviceTimer> timer = device.make_timer();
  Measured m;
  if (o.dry_run) {
    if (on_measure_start) on_measure_start();
    StepTiming t = timed_call(call, device, timer.get());
    m.wall.push_back(t.wall);
    if (timer) m.device_times.push_back(t.device);
    m.measured = 1;
    m.repeat_medians.push_back(t.wall);
    return m;
  }
  auto warmup_start = Clock::now();
  while (m.warmup_done < o.warmup_steps || seconds_since(warmup_start) < o.warmup_time) {
    timed_call(call, device, timer.get());
    ++m.warmup_done;
    if (seconds_since(warmup_start) > o.max_time) break;
  }
  if (on_measure_start) on_measure_start();
  for (int repeat = 0; repeat < std::max(1, o.repeats); ++repeat) {
    std::vector<double> this_repeat;
    auto start = Clock::now();
    while (static_cast<int>(this_repeat.size()) < o.min_steps ||
           seconds_since(start) < o.min_time) {
      StepTiming t = timed_call(call, device, timer.get());
      this_repeat.push_back(t.wall);
      m.wall.push_back(t.wall);
      if (timer) m.device_times.push_back(t.device);
      if (seconds_since(start) > o.max_time) {
        m.capped |= static_cast<int>(this_repeat.size()) < o.min_steps;
        break;
      }
    }
    m.measured += static_cast<int>(this_repeat.size());
    m.repeat_medians.push_back(summarize(this_repeat).median);
  }
  return m;
}

/// The first line of an exception message (c10 errors carry long backtraces).
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 400 ? line.substr(0, 400) + "..." : line;
}

bool is_out_of_memory(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("Out of memory") != std::string::npos ||
         message.find("DefaultCPUAllocator: can't allocate memory") != std::string::npos;
}

/// A per-step time metric: its median, statistics and raw samples.
Metric time_metric(const std::vector<double>& samples) {
  Metric metric;
  metric.stats = summarize(samples);
  metric.value = metric.stats->median;
  metric.unit = "s";
  metric.better = "lower";
  metric.samples = samples;
  return metric;
}

/// Derives throughput, FLOP/s, bandwidth and % of ceilings from the step times.
void add_derived_metrics(Result& result, const std::vector<double>& wall,
                         const std::vector<double>& device_times, int threads) {
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
    result.theoretical_compute_ceiling = compute_ceiling(device_name, work.dtype, threads);
    result.compute_ceiling = measured_compute_ceiling(device_name, work.dtype, threads);
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
    result.theoretical_bandwidth_ceiling = bandwidth_ceiling(device_name);
    result.bandwidth_ceiling = measured_bandwidth_ceiling(device_name, threads);
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
  result.bound = classify_bound(work, median, result.compute_ceiling, result.bandwidth_ceiling);
  if (work.flops > 0 && work.bytes > 0) {
    result.set_metric("arithmetic_intensity", work.flops / work.bytes, "FLOP/B", "");
  }
}

/// The input pipeline's figures over the measured steps (docs/metrics.md, "Input pipeline"):
/// stall share, loader throughput, accelerator utilisation when the step's compute time is
/// emulated, and the input-bound verdict. A problem with an `au_threshold` parameter (io/...)
/// is INVALID when its accelerator utilisation falls below it (not in a dry run: one step
/// without warm-up says nothing about a rate).
void add_input_metrics(Result& result, const data::Loader& loader, const std::vector<double>& wall,
                       double compute_seconds, bool dry_run) {
  double measured = 0;
  for (double t : wall) measured += t;
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

void run_measurement(Result& result, Workload& workload, Device& device, const RunOptions& o,
                     int threads) {
  if (o.dry_run) {
    result.notes.push_back("dry run: one step without warm-up; its figures are not measurements");
  }
  const data::Loader* loader = workload.input_loader();
  Measured m = measure_calls([&workload] { workload.step(); }, device, o,
                             [loader] {
                               if (loader) const_cast<data::Loader*>(loader)->reset_stats();
                             });
  add_derived_metrics(result, m.wall, m.device_times, threads);
  if (loader) {
    add_input_metrics(result, *loader, m.wall, workload.emulated_compute_seconds(), o.dry_run);
  }

  Summary repeats = summarize(m.repeat_medians);
  result.run["warmup_steps_done"] = m.warmup_done;
  result.run["measured_steps"] = m.measured;
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
    Measured m = measure_calls(probe.run, device, o);
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
                         {"measured_calls", m.measured}});
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

  double total_time = 0, worst_noise = 0, peak_rss = 0, peak_device = 0;
  std::vector<Result> part_results;
  std::string failed, skipped;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    std::fprintf(stderr, "dlbench: %s part %zu/%zu %s: %s\n", result.workload.c_str(), i + 1,
                 entries.size(), e.part.name.c_str(), e.problem.str().c_str());
    std::fflush(stderr);
    Result r = run_in_process(e.problem, options);
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
    worst_noise = std::max(worst_noise, metric("noise"));
    peak_rss = std::max(peak_rss, metric("host_peak_rss"));
    peak_device = std::max(peak_device, metric("device_peak_memory"));
    part_results.push_back(std::move(r));
  }

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
        {"share", total_time > 0 ? e.part.count * time / total_time : 0.0},
        {"flops_per_call", r.work.flops},
        {"bytes_per_call", r.work.bytes},
        {"dtype", r.work.dtype},
        {"primary_metric", r.work.primary_metric()},
        {"flops", metric("flops")},
        {"bandwidth", metric("bandwidth")},
        {"pct_peak_compute", metric("pct_peak_compute")},
        {"pct_peak_bandwidth", metric("pct_peak_bandwidth")},
        {"noise", metric("noise")},
        {"check", r.check.status == CheckOutcome::Status::kPassed   ? "passed"
                  : r.check.status == CheckOutcome::Status::kFailed ? "failed"
                                                                    : "not_applicable"},
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
  result.set_metric("noise", worst_noise, "%", "lower");
  result.noisy = worst_noise > 100 * options.cv_bound;
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
  result.run["noise_basis"] = "the noisiest part's noise";
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
  bool set_up = false;
  try {
    workload = Registry::instance().create(resolved);
    result.work = workload->work();
    int threads = static_cast<int>(resolved.get_int("threads"));
    uint64_t seed = static_cast<uint64_t>(resolved.get_int("seed"));
    set_thread_count(threads);
    result.run["threads_effective"] = at::get_num_threads();
    result.run["blas_threads_effective"] = active_blas().threads;
    torch::manual_seed(seed);

    if (resolved.params.count("mode") && resolved.get("mode") == "quality") {
      workload.reset();  // each run of a quality problem sets up its own instance
      train::run_quality_problem(result, resolved, options);
      result.duration_s = seconds_since(problem_start);
      return result;
    }
    std::unique_ptr<Device> device = Device::create(resolved.get("device"));
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
    workload->setup(context);
    set_up = true;
    run_measurement(result, *workload, *device, options, threads);
    run_probes(result, *workload, *device, options);
    // Peaks of the measured run, before the check allocates its reference tensors.
    result.set_metric("host_peak_rss", host_peak_rss_bytes(), "B", "lower");
    if (auto peak = device->peak_memory_bytes()) {
      result.set_metric("device_peak_memory", *peak, "B", "lower");
    }
    if (options.check) {
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

}  // namespace dlbench
