// Training to quality (see quality.h and docs/quality.md).
#include "harness/quality.h"

#include <fmt/core.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>

#include "analysis/derive.h"
#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/stats.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "core/workload.h"
#include "data/loader.h"
#include "harness/measure.h"
#include "harness/mllog.h"
#include "harness/progress.h"

namespace dlbench {

using nlohmann::json;

namespace {

/// One point of the quality curve.
struct EvalPoint {
  double epoch = 0;      ///< epochs of training data seen
  int64_t samples = 0;   ///< training samples seen
  double elapsed_s = 0;  ///< since run_start, evaluations included
  double quality = NAN;
  double loss = NAN;
};

/// What one training run to quality did.
struct RunRecord {
  uint64_t seed = 0;
  bool reached = false;
  std::string stop;  ///< "target reached", "epoch budget", "time budget", "dry run"
  double time_to_quality = std::numeric_limits<double>::infinity();
  double wall_s = 0, eval_s = 0, init_s = 0;
  double epochs = 0;
  int64_t samples = 0;
  double final_quality = NAN, best_quality = NAN;
  data::LoaderStats train_loader;
  std::vector<EvalPoint> curve;

  double train_s() const { return std::max(1e-12, wall_s - eval_s); }
  double stall_share() const { return 100 * train_loader.wait_seconds / train_s(); }
};

json curve_json(const std::vector<EvalPoint>& curve) {
  json points = json::array();
  for (const EvalPoint& p : curve) {
    points.push_back({{"epoch", p.epoch},
                      {"samples", p.samples},
                      {"elapsed_s", p.elapsed_s},
                      {"quality", p.quality},
                      {"loss", std::isnan(p.loss) ? json(nullptr) : json(p.loss)}});
  }
  return points;
}

QualitySpec apply_overrides(QualitySpec spec, const QualityOptions& q) {
  if (q.target > 0) spec.target = q.target;
  if (q.max_epochs > 0) spec.max_epochs = q.max_epochs;
  if (q.eval_every > 0) spec.eval_every_epochs = q.eval_every;
  if (spec.batch_size <= 0) throw Error("quality task has no training batch size");
  if (spec.eval_batch_size <= 0) spec.eval_batch_size = spec.batch_size;
  return spec;
}

/// Passes over the held-out split and returns the quality (a dry run looks at two batches).
double evaluate(QualityTask& task, data::Loader& loader, bool dry_run) {
  task.begin_evaluation();
  loader.start_epoch(0);
  int batches = 0;
  while (auto batch = loader.next()) {
    task.evaluate_on(*batch);
    if (dry_run && ++batches >= 2) break;
  }
  return task.end_evaluation();
}

/// Sets up a fresh workload with `seed`, trains it to the target or the budget, tears it down.
RunRecord train_once(const Problem& base, uint64_t seed, int run_index, const QualityOptions& q,
                     const RunOptions& options, MlLog& log, QualitySpec* spec_out) {
  RunRecord record;
  record.seed = seed;
  Problem problem = base;
  problem.params["seed"] = std::to_string(seed);
  std::unique_ptr<Workload> workload = Registry::instance().create(problem);
  std::unique_ptr<Device> device = Device::create(problem.get("device"));
  torch::manual_seed(seed);
  int threads = static_cast<int>(problem.get_int("threads"));
  ExecContext context{*device, threads, seed};

  json run_meta = {{"run", run_index}};
  auto init_start = Clock::now();
  log.start("init_start", run_meta);
  workload->setup(context);
  QualityTask* task = workload->quality_task();
  if (!task) throw Unsupported(problem.workload + " has no quality task");
  QualitySpec spec = apply_overrides(task->spec(), q);
  *spec_out = spec;

  data::LoaderOptions train_options;
  train_options.batch_size = spec.batch_size;
  train_options.workers = q.workers;
  train_options.prefetch = q.prefetch;
  train_options.shuffle = true;
  train_options.drop_last = true;
  train_options.seed = seed;
  data::Loader train_loader(task->train_data(), train_options);
  data::LoaderOptions eval_options = train_options;
  eval_options.batch_size = spec.eval_batch_size;
  eval_options.shuffle = false;
  eval_options.drop_last = false;
  data::Loader eval_loader(task->eval_data(), eval_options);

  const int64_t per_epoch = train_loader.batches_per_epoch();
  if (per_epoch <= 0) {
    throw Error(fmt::format("the training split ({} samples) is smaller than one batch ({})",
                            train_loader.source().size(), spec.batch_size));
  }
  const int64_t eval_interval =
      std::max<int64_t>(1, std::llround(spec.eval_every_epochs * static_cast<double>(per_epoch)));
  const int64_t max_batches =
      options.dry_run
          ? 2
          : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(spec.max_epochs * per_epoch)));
  log.event("seed", seed, run_meta);
  log.event("global_batch_size", spec.batch_size, run_meta);
  log.event("train_samples", train_loader.source().size(), run_meta);
  log.event("eval_samples", eval_loader.source().size(), run_meta);
  log.event("opt_name", spec.optimizer, run_meta);
  log.event("eval_metric", spec.metric, run_meta);
  log.event("target_quality", spec.target, run_meta);
  log.end("init_stop", run_meta);
  record.init_s = seconds_since(init_start);

  device->synchronize();
  train_loader.reset_stats();
  auto run_start = Clock::now();
  log.start("run_start", run_meta);
  int64_t batches = 0;
  int64_t epoch = 0;
  bool done = false;
  while (!done) {
    train_loader.start_epoch(epoch);
    log.start("epoch_start", {{"run", run_index}, {"epoch_num", epoch + 1}});
    while (!done) {
      std::optional<data::Batch> batch = train_loader.next();
      if (!batch) break;
      task->train_on(*batch);
      ++batches;
      report_progress(fmt::format("run {}, epoch {}, batch {} of at most {}", run_index + 1,
                                  epoch + 1, batches, max_batches));
      record.samples += batch->size;
      bool last = batches >= max_batches;
      bool budget_over = q.budget_s > 0 && seconds_since(run_start) >= q.budget_s;
      if (batches % eval_interval != 0 && !last && !budget_over) continue;

      device->synchronize();
      EvalPoint point;
      point.loss = task->last_loss();
      point.samples = record.samples;
      point.epoch = static_cast<double>(batches) / static_cast<double>(per_epoch);
      auto eval_start = Clock::now();
      log.start("eval_start", {{"run", run_index}, {"epoch_num", point.epoch}});
      point.quality = evaluate(*task, eval_loader, options.dry_run);
      device->synchronize();
      record.eval_s += seconds_since(eval_start);
      point.elapsed_s = seconds_since(run_start);
      log.end("eval_stop", {{"run", run_index}, {"epoch_num", point.epoch}});
      log.event("eval_accuracy", point.quality,
                {{"run", run_index}, {"epoch_num", point.epoch}, {"samples", point.samples}});
      record.curve.push_back(point);
      report_progress_event(
          fmt::format("run {}, epoch {:.2f}: {} {:.4g}{} (target {:.4g}{}), {} of training",
                      run_index + 1, point.epoch, spec.metric, point.quality, spec.unit,
                      spec.target, spec.unit, format_seconds(point.elapsed_s)));
      record.final_quality = point.quality;
      if (std::isnan(record.best_quality) ||
          meets_target(point.quality, record.best_quality, spec.higher_is_better)) {
        record.best_quality = point.quality;
      }
      record.epochs = point.epoch;
      if (meets_target(point.quality, spec.target, spec.higher_is_better)) {
        record.reached = true;
        record.time_to_quality = point.elapsed_s;
        record.stop = "target reached";
        done = true;
      } else if (options.dry_run) {
        record.stop = "dry run";
        done = true;
      } else if (last) {
        record.stop = "epoch budget";
        done = true;
      } else if (budget_over) {
        record.stop = "time budget";
        done = true;
      }
    }
    log.end("epoch_stop", {{"run", run_index}, {"epoch_num", epoch + 1}});
    ++epoch;
  }
  record.wall_s = seconds_since(run_start);
  record.train_loader = train_loader.stats();
  log.end("run_stop", {{"run", run_index},
                       {"status", record.reached ? "success" : "aborted"},
                       {"reason", record.stop}});
  workload->teardown();
  return record;
}

}  // namespace

QualityOptions quality_options(const Problem& problem) {
  QualityOptions q;
  auto has = [&](const char* key) { return problem.params.count(key) > 0; };
  if (has("target")) q.target = problem.get_double("target");
  if (has("runs")) q.runs = static_cast<int>(problem.get_int("runs"));
  if (has("max_epochs")) q.max_epochs = problem.get_double("max_epochs");
  if (has("eval_every")) q.eval_every = problem.get_double("eval_every");
  if (has("valid_n")) q.valid_n = problem.get_double("valid_n");
  if (has("budget_s")) q.budget_s = problem.get_double("budget_s");
  if (has("workers")) q.workers = static_cast<int>(problem.get_int("workers"));
  if (has("prefetch")) q.prefetch = static_cast<int>(problem.get_int("prefetch"));
  return q;
}

void run_quality_problem(Result& result, const Problem& resolved, const RunOptions& options) {
  QualityOptions q = quality_options(resolved);
  uint64_t base_seed = static_cast<uint64_t>(resolved.get_int("seed"));
  MlLog log(options.mllog);
  log.event("submission_benchmark", resolved.workload);
  log.event("dlbench_problem", resolved.str());
  log.event("cache_clear", true);
  if (options.dry_run) {
    result.notes.push_back(
        "dry run: two training batches and two evaluation batches; not a quality result");
  }
  reset_host_peak_rss();

  std::vector<RunRecord> runs;
  QualitySpec spec;
  for (int i = 0; i < std::max(1, q.runs); ++i) {
    runs.push_back(
        train_once(resolved, base_seed + static_cast<uint64_t>(i), i, q, options, log, &spec));
  }

  // Combine the runs: MLPerf's mean for the time, and the kept runs' averages for the rest.
  std::vector<double> times;
  for (const RunRecord& r : runs) times.push_back(r.time_to_quality);
  RunMean mean = olympic_mean(times);
  const std::vector<size_t>& basis = mean.kept;
  auto average = [&](auto field) {
    double sum = 0;
    for (size_t i : basis) sum += field(runs[i]);
    return sum / static_cast<double>(basis.size());
  };
  double samples = average([](const RunRecord& r) { return static_cast<double>(r.samples); });
  double train_s = average([](const RunRecord& r) { return r.train_s(); });
  double quality = average([](const RunRecord& r) { return r.final_quality; });
  double stall_wait = average([](const RunRecord& r) { return r.train_loader.wait_seconds; });
  double load_s = average([](const RunRecord& r) { return r.train_loader.load_seconds; });
  double eval_s = average([](const RunRecord& r) { return r.eval_s; });
  double wall_s = average([](const RunRecord& r) { return r.wall_s; });
  double throughput = samples / train_s;
  double flops = spec.train_flops_per_sample * throughput;
  double ratio = quality_ratio(quality, spec.target, spec.higher_is_better);
  std::string better_quality = spec.higher_is_better ? "higher" : "lower";

  if (mean.valid()) {
    result.set_metric("time_to_quality", mean.mean, "s", "lower");
    std::vector<double> kept_times;
    for (size_t i : basis) kept_times.push_back(runs[i].time_to_quality);
    result.metrics["time_to_quality"].stats = summarize(kept_times);
    result.metrics["time_to_quality"].samples = kept_times;
    result.set_metric("epochs_to_quality", average([](const RunRecord& r) { return r.epochs; }),
                      "epochs", "lower");
    result.set_metric("samples_to_quality", samples, "samples", "lower");
  } else {
    result.status = Status::kInvalid;
    double best = NAN;
    for (const RunRecord& r : runs) {
      if (std::isnan(best) || meets_target(r.best_quality, best, spec.higher_is_better)) {
        best = r.best_quality;
      }
    }
    int reached = static_cast<int>(
        std::count_if(runs.begin(), runs.end(), [](const RunRecord& r) { return r.reached; }));
    result.reason = fmt::format(
        "{} {} {:g}{} not reached ({} of {} runs reached it; budget {:g} epochs{}); best {} "
        "{:.4g}{}",
        spec.metric, spec.higher_is_better ? ">=" : "<=", spec.target, spec.unit, reached,
        static_cast<int>(runs.size()), spec.max_epochs,
        q.budget_s > 0 ? fmt::format(", {:g} s", q.budget_s) : "", spec.metric, best, spec.unit);
  }
  result.set_metric("quality", quality, spec.unit, better_quality);
  result.set_metric("quality_target", spec.target, spec.unit, "");
  result.set_metric("training_throughput", throughput, "samples/s", "higher");
  if (flops > 0) {
    result.set_metric("achieved_flops", flops, "FLOP/s", "higher");
    result.set_metric("valid_flops", valid_flops(flops, ratio, q.valid_n), "FLOP/s", "higher");
  }
  // The loader's figures over the training time (evaluations excluded), as every loader-fed
  // result reports them.
  TimelineTotals training;
  training.has_input = true;
  training.samples = samples;
  training.input_wait_s = stall_wait;
  training.input_load_s = load_s;
  training.input_workers = q.workers;
  derive_quality_input(result, training, train_s);
  result.set_metric("eval_share", 100 * eval_s / wall_s, "%", "");
  result.set_metric("host_peak_rss", host_peak_rss_bytes(), "B", "lower");

  json records = json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunRecord& r = runs[i];
    bool kept = std::find(basis.begin(), basis.end(), i) != basis.end();
    records.push_back({{"seed", r.seed},
                       {"reached", r.reached},
                       {"stop", r.stop},
                       {"kept", kept},
                       {"time_to_quality_s", r.reached ? json(r.time_to_quality) : json(nullptr)},
                       {"epochs", r.epochs},
                       {"samples", r.samples},
                       {"final_quality", r.final_quality},
                       {"best_quality", r.best_quality},
                       {"wall_s", r.wall_s},
                       {"eval_s", r.eval_s},
                       {"init_s", r.init_s},
                       {"input_stall_share", r.stall_share()},
                       {"loader",
                        {{"batches", r.train_loader.batches},
                         {"wait_s", r.train_loader.wait_seconds},
                         {"load_s", r.train_loader.load_seconds}}},
                       {"curve", curve_json(r.curve)}});
  }
  result.run["quality"] = {
      {"task", spec.task},
      {"dataset", spec.dataset},
      {"metric", spec.metric},
      {"unit", spec.unit},
      {"higher_is_better", spec.higher_is_better},
      {"target", spec.target},
      {"target_source", spec.target_source},
      {"eval_every_epochs", spec.eval_every_epochs},
      {"max_epochs", spec.max_epochs},
      {"budget_s", q.budget_s},
      {"batch_size", spec.batch_size},
      {"eval_batch_size", spec.eval_batch_size},
      {"optimizer", spec.optimizer},
      {"train_flops_per_sample", spec.train_flops_per_sample},
      {"valid_flops_n", q.valid_n},
      {"runs", runs.size()},
      {"combined_as", runs.size() >= 3 ? "mean of the runs left after dropping the "
                                         "fastest and the slowest (MLPerf)"
                                       : "mean of every run"},
      {"loader", {{"workers", q.workers}, {"prefetch", q.prefetch}}}};
  result.run["quality_runs"] = records;
  if (!options.mllog.empty()) result.run["mllog"] = options.mllog;
}

}  // namespace dlbench
