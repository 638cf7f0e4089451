#include "harness/measure.h"

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "analysis/derive.h"
#include "core/stats.h"
#include "core/strings.h"
#include "harness/process_group.h"
#include "harness/progress.h"

namespace dlbench {

using nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

namespace {

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

}  // namespace

Measured measure_calls(const std::function<void()>& call, Device& device, const RunOptions& o,
                       dist::ProblemGroup* group, const std::function<void()>& on_measure_start,
                       const std::string& label) {
  const std::string prefix = label.empty() ? "" : label + ": ";
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
    report_progress(fmt::format("{}warm-up, step {}", prefix, m.warmup_done));
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
      report_progress(fmt::format("{}repetition {}/{}, step {}; about {} left", prefix, repeat + 1,
                                  repeats, steps, format_seconds(left)));
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

json sampling_json(const Measured& m) {
  return {{"steps_per_sample", m.steps_per_sample},
          {"sample_floor_s", m.sample_floor},
          {"timer_overhead_s", m.timer_overhead},
          {"samples", m.wall.size()},
          {"samples_stored_max", kMaxStoredSamples}};
}

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

}  // namespace dlbench
