// `dlbench run`: turns the command line (targets, suites, problem lists, run rules) into a
// validated RunRequest and hands it to the harness; with --nproc it launches the ranks here
// instead, and a sweep (--nproc 1,2,4) ends with the scaling table.
#include "cli/subcommands.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "cli/cli_common.h"
#include "cli/targets.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/isolation.h"
#include "harness/launcher.h"
#include "harness/run.h"
#include "harness/run_options.h"
#include "harness/suite.h"
#include "report/report.h"
#include "report/scaling.h"

namespace dlbench {

using nlohmann::json;

namespace {

/// The options of `dlbench run` that are not run rules (RunOptions holds those).
struct RunFlags {
  std::vector<std::string> targets;
  std::vector<std::string> suites;
  std::vector<std::string> lists;  ///< problem lists (inputs/...)
  std::string device, out, format = "table", data_dir;
  int threads = 0;
  bool quiet = false;
  bool no_peak = false;
  bool no_isolate = false, no_check = false;
  std::string nproc;          ///< --nproc: ranks to launch on this host ("2"), or a sweep ("1,2,4")
  double dist_timeout = 120;  ///< process-group timeout, seconds
  /// --scaling: "weak" (each rank takes the problem's batch) or "strong" (the batch is the
  /// global batch, divided over the ranks).
  std::string scaling = "weak";
};

/// `args` without the options `names` and their values (both "--name V" and "--name=V").
std::vector<std::string> without_option(const std::vector<std::string>& args,
                                        const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    bool drop = false;
    for (const std::string& name : names) {
      if (args[i] == name) {
        drop = true;
        ++i;  // and its value
      } else if (starts_with(args[i], name + "=")) {
        drop = true;
      }
      if (drop) break;
    }
    if (!drop) out.push_back(args[i]);
  }
  return out;
}

/// One precedence for every problem: defaults, then the rules a suite (or its entry) gives,
/// then the flags given explicitly on the command line.
RunOptions with_rules(const json& rules, const RunOptions& options, const CLI::App& run_app) {
  const json flags_given = options.to_json();
  json merged = flags_given;
  for (const auto& [key, value] : rules.items()) merged[key] = value;
  for (const auto& [key, value] : flags_given.items()) {
    std::string option_name = "--" + key;
    std::replace(option_name.begin(), option_name.end(), '_', '-');
    if (run_app.get_option_no_throw(option_name) && run_app.count(option_name) > 0) {
      merged[key] = value;
    }
  }
  return RunOptions::from_json(merged);
}

/// Gathers the problems of a run (suites first, then problem lists, then targets) as a run of
/// `world_size` ranks runs them, and validates them all: Error on bad input, before anything
/// runs.
RunRequest plan_run(const RunFlags& flags, const RunOptions& options, const CLI::App& run_app,
                    int world_size) {
  RunRequest request;
  request.options = options;
  std::vector<Problem> raw;
  std::vector<std::string> origins;  ///< where each problem was written ("" on the command line)
  std::string label;
  for (const auto& name : flags.suites) {
    Suite suite = load_suite(name);
    for (const auto& entry : suite.entries) {
      json entry_rules = suite.run;
      for (const auto& [key, value] : entry.run.items()) entry_rules[key] = value;
      if (entry.timeout) entry_rules["timeout"] = *entry.timeout;
      raw.push_back(entry.problem);
      origins.push_back(entry.origin);
      request.problem_options.push_back(with_rules(entry_rules, options, run_app));
    }
    label += (label.empty() ? "" : "+") + suite.name;
    request.suites.push_back({{"name", suite.name},
                              {"path", suite.path},
                              {"run_options", with_rules(suite.run, options, run_app).to_json()}});
  }
  for (const auto& list : flags.lists) {
    for (const auto& listed : load_problem_list_entries(list)) {
      raw.push_back(listed.problem);
      origins.push_back(listed.origin);
      request.problem_options.push_back(options);
    }
    std::string base = list.substr(list.rfind('/') + 1);
    label += (label.empty() ? "" : "+") + base.substr(0, base.rfind('.'));
  }
  TargetList targets = parse_targets(flags.targets);
  for (const auto& p : targets.problems) {
    raw.push_back(p);
    origins.push_back("");
    request.problem_options.push_back(options);
  }
  if (raw.empty()) {
    throw Error("nothing to run: give a workload (micro/gemm), a repro string or --suite NAME");
  }
  for (const auto& o : request.problem_options) {
    if (o.max_time < o.min_time) {
      throw Error(fmt::format(
          "max_time ({:g} s) is below min_time ({:g} s): min_time could never be reached",
          o.max_time, o.min_time));
    }
  }
  if (!label.empty()) request.label = label;
  std::map<std::string, std::string> overrides = targets.overrides;
  if (!flags.device.empty()) overrides["device"] = flags.device;
  if (flags.threads > 0) overrides["threads"] = std::to_string(flags.threads);
  request.problems = resolve_all(raw, overrides, origins);
  if (flags.scaling == "strong" && world_size > 1) {
    request.problems = divide_batches(request.problems, world_size);
  }
  return request;
}

/// `dlbench run ... --nproc N`: launches N ranks here; a sweep (1,2,4) launches each count in
/// turn, each into its own results file, and prints the scaling table.
int launch_ranks(const RunFlags& flags, const RunOptions& options, const CLI::App& run_app,
                 const std::vector<std::string>& command_line) {
  std::vector<int> counts = dist::parse_nproc(flags.nproc);
  // Bad input is one line here, not one per rank.
  for (int count : counts) plan_run(flags, options, run_app, count);
  // Checked here, before any rank starts: a rank would see its peers starting as a busy machine.
  if (!flags.quiet && !options.dry_run) warn_if_busy();
  std::vector<std::string> args(command_line.begin() + 1, command_line.end());
  args = without_option(args, {"--nproc"});
  double grace = std::max(10.0, flags.dist_timeout / 4);
  if (counts.size() == 1) return dist::launch_local(counts[0], args, grace);

  // Every count gets the same threads per rank (the host's cores over the largest count), so
  // N ranks have N times the resources of one and the efficiency compares like with like.
  bool threads_given = flags.threads > 0;
  for (const std::string& arg : args) threads_given |= arg.find("threads=") != std::string::npos;
  if (!threads_given) {
    int largest = *std::max_element(counts.begin(), counts.end());
    int threads = std::max(1, default_thread_count() / largest);
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
    print_error_line(fmt::format(
        "dlbench: --nproc sweep: {} thread(s) per rank at every count ({} cores / {} ranks); "
        "--threads sets it",
        threads, default_thread_count(), largest));
  }
  std::string stem = flags.out.empty() ? default_results_path("scaling") : flags.out;
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  args = without_option(args, {"--out", "-o"});
  std::vector<ResultsDocument> documents;
  int status = kExitOk;
  for (int count : counts) {
    std::string path = fmt::format("{}-n{}.json", stem, count);
    std::vector<std::string> with_out = args;
    with_out.push_back("--out");
    with_out.push_back(path);
    print_error_line(fmt::format("dlbench: --nproc sweep: {} rank(s) -> {}", count, path));
    status = std::max(status, dist::launch_local(count, with_out, grace));
    if (interrupted()) return kExitFailures;
    documents.push_back(ResultsDocument::load(path));
  }
  print(scaling_table(counts, documents, flags.scaling == "strong"));
  return status;
}

int run(RunFlags flags, RunOptions options, const CLI::App& run_app,
        const std::vector<std::string>& command_line) {
  check_data_dir(flags.data_dir, false);
  // Children inherit the data directory through the environment.
  if (!flags.data_dir.empty()) setenv("DLBENCH_DATA_DIR", flags.data_dir.c_str(), 1);
  options.isolate = !flags.no_isolate;
  options.check = !flags.no_check;
  dist::RankInfo me = dist::detect_rank();
  if (!flags.nproc.empty()) {
    if (me.distributed()) {
      throw Error(fmt::format(
          "--nproc starts ranks itself; this process is already rank {} of {} ({}): drop --nproc",
          me.rank, me.world_size, me.source));
    }
    return launch_ranks(flags, options, run_app, command_line);
  }
  if (me.rank != 0) flags.quiet = true;
  RunRequest request = plan_run(flags, options, run_app, me.world_size);
  if (me.rank == 0) warn_if_oversubscribed(request.problems);
  request.command_line = command_line;
  request.out = flags.out;
  request.quiet = flags.quiet;
  request.measure_ceilings = !flags.no_peak && !env_flag("DLBENCH_NO_PEAK");
  request.dist_timeout = flags.dist_timeout;
  request.scaling = flags.scaling;
  request.on_result = [](const Result& result, size_t index, size_t total) {
    print_error_line(progress_line(result, index, total));
  };
  request.on_complete = [format = flags.format](const ResultsDocument& document) {
    print(render(document, format));
  };
  return run_request(request, me);
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  auto options = std::make_shared<RunOptions>();
  CLI::App* run_app = app.add_subcommand(
      "run",
      "run problems and save the results\n"
      "  TARGET is a workload (micro/gemm), a quoted repro string, or key=value; a key=value\n"
      "  after a workload sets its parameter, one before any workload (or with --suite) sets\n"
      "  it for every problem that has it. Exit status 1 if any problem FAILED.");
  RunFlags& f = *flags;
  RunOptions& o = *options;
  run_app->add_option("targets", f.targets, "workloads, repro strings, key=value overrides");
  run_app->add_option("--suite", f.suites, "a suite name (suites/NAME.yaml) or a YAML path");
  run_app->add_option("--list", f.lists,
                      "a problem list: a file or a name under inputs/ (deepbench/gemm-train.txt)");
  run_app->add_option("--device", f.device, "cpu, cuda or cuda:N (overrides device=)");
  run_app->add_option("--threads", f.threads, "intra-op CPU threads (overrides threads=)")
      ->check(threads_option());
  run_app->add_option("--out,-o", f.out, "results file (default results/<suite>-<time>.json)");
  run_app->add_option("--format", f.format, "stdout format: table, json, csv, md")
      ->check(CLI::IsMember(report_formats()));
  run_app->add_flag("--dry-run", o.dry_run, "one step per problem, no warm-up (CI)");
  run_app->add_option("--min-time", o.min_time, "seconds to measure per repetition")
      ->check(number_option(false, "seconds"));
  run_app->add_option("--min-steps", o.min_steps, "steps to measure per repetition")
      ->check(integer_option(1));
  run_app->add_option("--max-time", o.max_time, "cap in seconds per repetition")
      ->check(number_option(true, "seconds"));
  run_app->add_option("--repeats", o.repeats, "repetitions")->check(integer_option(1));
  run_app->add_option("--warmup-steps", o.warmup_steps, "warm-up steps")->check(integer_option(0));
  run_app->add_option("--warmup-time", o.warmup_time, "warm-up seconds")
      ->check(number_option(false, "seconds"));
  run_app
      ->add_option("--cv-bound", o.cv_bound,
                   "mark results noisy above this CV of the repetition medians (0.05 = 5%)")
      ->check(number_option(true));
  run_app->add_option("--timeout", o.timeout, "seconds per problem before it is killed")
      ->check(number_option(true, "seconds"));
  run_app->add_flag("--no-isolate", f.no_isolate, "run problems in this process (no time limit)");
  run_app->add_option(
      "--nproc", f.nproc,
      "ranks to start on this host (data-parallel models, comm/...); a list (1,2,4) runs each "
      "count and prints the scaling table. Under mpirun, srun or torchrun the ranks come from "
      "their variables instead (docs/distributed.md)");
  run_app
      ->add_option("--dist-timeout", f.dist_timeout,
                   "seconds a rank waits for its peers (process-group timeout) before it fails")
      ->check(number_option(true, "seconds"));
  run_app
      ->add_option("--scaling", f.scaling,
                   "weak: every rank takes the problem's batch (the default); strong: the batch "
                   "is the global batch and each of N ranks takes batch/N")
      ->check(CLI::IsMember({"weak", "strong"}));
  run_app->add_flag("--no-check", f.no_check, "skip correctness checks");
  run_app->add_flag("--quiet,-q", f.quiet, "no progress lines on stderr");
  run_app->add_flag("--no-peak", f.no_peak,
                    "do not measure missing ceilings first (cached ones are still used; % of peak "
                    "falls back to theoretical ceilings)");
  run_app->add_option("--data-dir", f.data_dir,
                      "where quality runs find data sets (default $DLBENCH_DATA_DIR, else "
                      "~/.cache/dlbench/data)");
  return {run_app, [flags, options, run_app](const CommandLine& command_line) {
            return run(*flags, *options, *run_app, command_line);
          }};
}

}  // namespace dlbench
