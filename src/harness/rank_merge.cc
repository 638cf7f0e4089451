// The merge of a group's ranks: one result for a problem every rank ran, derived by the same
// derivation as a single rank's from the group's measurement. See docs/distributed.md.
#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "analysis/derive.h"
#include "core/error.h"
#include "core/strings.h"
#include "harness/runner.h"

namespace dlbench {

using nlohmann::json;

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
        fmt::format("rank {} ({}): {}", r,
                    r < static_cast<int>(hosts.size()) ? hosts[r].c_str() : "?", one.reason);
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
    merged.check.detail = fmt::format("summed over {} ranks; ", ranks) + merged.check.detail;
  }

  // Timing: a step ends when the slowest rank ends.
  std::vector<double> wall = slowest_rank_samples(per_rank, "step_time");
  if (wall.empty()) {
    merged.notes.push_back(
        "the ranks measured different step counts: the figures are rank 0's, not the group's");
    return merged;
  }
  if (!merged.work.group_counts) {
    merged.work.flops *= ranks;
    merged.work.bytes *= ranks;
    merged.work.samples *= ranks;
  }
  // The group's measurement: the slowest rank's step, every rank's samples consumed, and the
  // mean over ranks of the measured time, the input waits and the communication.
  Measurement group = measurement_of(per_rank.front());
  group.step_times = wall;
  group.device_times = slowest_rank_samples(per_rank, "device_time");
  std::vector<Measurement> each;
  for (const Result& one : per_rank) each.push_back(measurement_of(one));
  auto mean = [&](auto field) {
    double sum = 0;
    for (const Measurement& m : each) sum += field(m);
    return sum / static_cast<double>(ranks);
  };
  group.measured_seconds = mean([](const Measurement& m) { return m.measured_seconds; });
  TimelineTotals& t = group.timeline;
  t.samples = 0;
  t.batches = 0;
  for (const Measurement& m : each) {
    t.samples += m.timeline.samples;
    t.batches += m.timeline.batches;
  }
  t.input_wait_s = mean([](const Measurement& m) { return m.timeline.input_wait_s; });
  t.input_load_s = mean([](const Measurement& m) { return m.timeline.input_load_s; });
  t.comm_calls = static_cast<int64_t>(
      std::llround(mean([](const Measurement& m) { return double(m.timeline.comm_calls); })));
  t.comm_bytes = mean([](const Measurement& m) { return m.timeline.comm_bytes; });
  t.comm_busy_s = mean([](const Measurement& m) { return m.timeline.comm_busy_s; });
  t.comm_exposed_s = mean([](const Measurement& m) { return m.timeline.comm_exposed_s; });
  int threads = 1;
  if (auto it = merged.params.find("threads"); it != merged.params.end()) {
    threads = static_cast<int>(parse_double(it->second).value_or(1));
  }
  derive(merged, group, ceilings_for(merged.work, merged.params["device"], threads, ranks));
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
      merged.notes.push_back(note + fmt::format(" (rank {}, the noisiest of {})", noisiest, ranks));
    }
  }
  merged.notes.push_back(fmt::format(
      "{} ranks: step time of each step is the slowest rank's; work counts are the group's{}",
      ranks,
      merged.work.group_counts ? " (a collective's)" : fmt::format(" ({} x one rank's)", ranks)));
  return merged;
}

}  // namespace dlbench
