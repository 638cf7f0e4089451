#include "harness/run.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "analysis/ceiling_cache.h"
#include "analysis/ceilings.h"
#include "analysis/derive.h"
#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/run_mode.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/contention.h"
#include "harness/context.h"
#include "harness/isolation.h"
#include "harness/measure.h"
#include "harness/peak.h"
#include "harness/process_group.h"
#include "harness/progress.h"
#include "harness/results_output.h"
#include "harness/runner.h"

namespace dlbench {

using nlohmann::json;

namespace {

void say(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

/// "results/x.json" -> "results/x": the stem that files beside the results file share.
std::string without_json_suffix(std::string path) {
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0)
    path.resize(path.size() - 5);
  return path;
}

/// Loads (or, when `measure_missing`, measures) the ceilings of every device and thread count
/// the problems use, and returns them for the context block.
json prepare_ceilings(const std::vector<Problem>& problems, bool measure_missing, bool quiet) {
  std::set<std::pair<std::string, int>> needed;
  for (const auto& problem : problems) {
    WorkCounts work = Registry::instance().create(problem)->work();
    if (work.flops <= 0 && work.bytes <= 0) continue;
    std::string device = problem.get("device");
    if (device == "cuda") device = "cuda:0";
    if (device != "cpu" && !cuda_available()) continue;
    needed.insert({device, device == "cpu" ? static_cast<int>(problem.get_int("threads")) : 0});
  }
  json out = json::object();
  for (const auto& [device, threads] : needed) {
    json measured = load_measured_ceilings(device, threads);
    if (!measured.is_null() && measure_missing &&
        measured_ceilings_need_measuring(measured, false)) {
      measured = nullptr;  // a stale ceiling: measure again
    }
    if (measured.is_null() && measure_missing) {
      if (!quiet) {
        say("measuring the ceilings of " + device +
            " first (dlbench peak; cached for later runs; --no-peak skips it)");
      }
      std::function<void(const std::string&)> progress;
      if (!quiet) progress = [](const std::string& line) { say("  peak " + line); };
      measured = measure_ceilings(device, threads, env_flag("DLBENCH_PEAK_QUICK"), progress);
    }
    if (measured.is_null()) continue;
    measured.erase("problems");
    std::string key =
        out.contains(device) ? fmt::format("{} (threads={})", device, threads) : device;
    out[key] = measured;
  }
  return out;
}

/// Everything rank 0 has gathered of one problem: each rank's result, in rank order.
class RankGather {
 public:
  RankGather(dist::Rendezvous& rendezvous, std::string prefix, double limit_s)
      : rendezvous_(rendezvous), prefix_(std::move(prefix)), limit_s_(limit_s) {}

  /// Rank `rank`'s result; a rank that sends nothing within the limit has lost its process,
  /// one that sends something unreadable failed. `mine` gives the problem's identity to both.
  Result of(int rank, const Result& mine) {
    std::string key = prefix_ + "result/" + std::to_string(rank);
    Clock::time_point start = Clock::now();
    bool arrived = false;
    while (!(arrived = rendezvous_.wait(key, 0.5))) {
      if (seconds_since(start) > limit_s_ || interrupted()) break;
    }
    Result failed = mine;
    failed.status = Status::kFailed;
    if (arrived) {
      try {
        return result_from_json(json::parse(rendezvous_.get(key, 1)));
      } catch (const std::exception& e) {
        failed.reason = std::string("sent an unreadable result: ") + e.what();
        return failed;
      }
    }
    failed.metrics.clear();
    failed.run = json::object();
    failed.reason = interrupted()
                        ? "sent no result before the run was stopped: its process "
                          "ended (the launcher names how)"
                        : fmt::format("sent no result within {:.0f} s: its process died", limit_s_);
    return failed;
  }

 private:
  dist::Rendezvous& rendezvous_;
  std::string prefix_;
  double limit_s_;
};

/// Runs problem `index` as this rank of a distributed run, posts the result to rank 0 and, on
/// rank 0, gathers every rank's result and merges them (docs/distributed.md, "Failures").
Result run_as_rank(const Problem& problem, RunOptions options, size_t index,
                   const dist::RankInfo& me, dist::Rendezvous& rendezvous,
                   const std::vector<std::string>& hosts, double dist_timeout) {
  const std::string prefix = "p" + std::to_string(index) + "/";
  options.group.rank = me.rank;
  options.group.world_size = me.world_size;
  options.group.local_rank = me.local_rank;
  options.group.master_addr = me.master_addr;
  options.group.master_port = me.master_port;
  options.group.prefix = prefix;
  options.group.timeout_s = dist_timeout;
  // A rank whose child still runs 5 s after another rank failed is not answering: it hung (a
  // healthy one gets the broken connection at once and ends by itself).
  std::optional<Clock::time_point> failure_seen;
  std::string failure;
  auto stop_reason = [&]() -> std::string {
    if (!failure_seen) {
      if (!rendezvous.has(prefix + "failed")) return "";
      failure = rendezvous.get(prefix + "failed", 1);
      failure_seen = Clock::now();
    }
    if (seconds_since(*failure_seen) < 5) return "";
    return "hung: still running 5 s after " + failure +
           ", so it never reached the collective the others waited in";
  };
  Result result = options.isolate ? run_isolated(problem, options, stop_reason)
                                  : run_in_process(problem, options);
  if (result.status == Status::kFailed && !rendezvous.has(prefix + "failed")) {
    rendezvous.set(prefix + "failed", fmt::format("rank {} failed", me.rank));
  }
  rendezvous.set(prefix + "result/" + std::to_string(me.rank), to_json(result).dump());
  if (me.rank != 0) return result;

  // Every other rank is in the same problem; the limit is the problem's plus the group timeout.
  RankGather gather(rendezvous, prefix, options.timeout + dist_timeout);
  std::vector<Result> per_rank{result};
  for (int r = 1; r < me.world_size; ++r) per_rank.push_back(gather.of(r, result));
  return merge_rank_results(per_rank, hosts);
}

/// The start of a distributed run: every rank posts its host and the problems it was given;
/// rank 0 checks that every rank joined with the same problems and says "ok" or why not.
/// Returns the hosts in rank order (rank 0 only). Throws Error when the run cannot start.
std::vector<std::string> meet_peers(const RunRequest& request, const dist::RankInfo& me,
                                    dist::Rendezvous& rendezvous) {
  std::string fingerprint;
  for (const auto& problem : request.problems) fingerprint += problem.str() + "\n";
  rendezvous.set(
      "hello/" + std::to_string(me.rank),
      json{{"host", dist::hostname()}, {"pid", getpid()}, {"problems", fingerprint}}.dump());
  std::vector<std::string> hosts{dist::hostname()};
  if (me.rank != 0) {
    std::string verdict = rendezvous.get("ready", request.dist_timeout);
    if (verdict != "ok") throw Error("rank 0 stopped the run: " + verdict);
    return hosts;
  }
  std::string verdict = "ok";
  for (int r = 1; r < me.world_size && verdict == "ok"; ++r) {
    std::string key = "hello/" + std::to_string(r);
    if (!rendezvous.wait(key, request.dist_timeout)) {
      verdict = fmt::format("rank {} did not join within {:.0f} s (--dist-timeout)", r,
                            request.dist_timeout);
      break;
    }
    json hello = json::parse(rendezvous.get(key, 1));
    hosts.push_back(hello.value("host", "?"));
    if (hello.value("problems", "") != fingerprint) {
      verdict = fmt::format(
          "rank {} ({}) was given different problems than rank 0: every rank must run the same "
          "command line",
          r, hello.value("host", "?"));
    }
  }
  rendezvous.set("ready", verdict);
  if (verdict != "ok") throw Error(verdict);
  return hosts;
}

/// Ranks other than 0: run every problem in step with rank 0; rank 0 writes the results.
int run_as_follower(const RunRequest& request, const dist::RankInfo& me,
                    dist::Rendezvous& rendezvous) {
  install_interrupt_handlers();
  bool any_failed = false;
  for (size_t i = 0; i < request.problems.size(); ++i) {
    Result result = run_as_rank(request.problems[i], request.problem_options[i], i, me, rendezvous,
                                {}, request.dist_timeout);
    any_failed |= result.status == Status::kFailed;
    if (interrupted()) return kExitFailures;
  }
  return any_failed ? kExitFailures : kExitOk;
}

/// Rank 0's results output. Its file is locked for the whole run before anything runs, so a
/// second run writing the same file stops here instead of losing one run's results.
std::unique_ptr<ResultsOutput> open_results(const RunRequest& request) {
  std::string path = request.out.empty() ? default_results_path(request.label, true) : request.out;
  size_t slash = path.rfind('/');
  std::error_code directory_error;
  if (slash != std::string::npos && slash > 0 &&
      !std::filesystem::create_directories(path.substr(0, slash), directory_error) &&
      directory_error) {
    throw Error("cannot create the directory for results file '" + path +
                "': " + directory_error.message());
  }
  return std::make_unique<ResultsOutput>(path);
}

/// The document's context (the machine, the distributed run) and invocation blocks.
ResultsDocument new_document(const RunRequest& request, const dist::RankInfo& me,
                             const std::vector<std::string>& hosts) {
  ResultsDocument document;
  document.context = collect_context();
  if (me.distributed()) {
    document.context["distributed"] = {
        {"world_size", me.world_size},
        {"launcher", me.source},
        {"master", fmt::format("{}:{}", me.master_addr, me.master_port)},
        {"hosts", hosts},
        {"timeout_s", request.dist_timeout},
        {"scaling", request.scaling}};
  }
  document.invocation = {{"command_line", request.command_line},
                         {"suites", request.suites},
                         {"run_options", request.options.to_json()},
                         {"problems", request.problems.size()}};
  return document;
}

/// A result that beat a measured ceiling by more than kStaleCeilingPct marks it stale, so
/// `dlbench peak` measures it again.
void mark_stale_ceilings(const Result& result, const Problem& problem, bool quiet) {
  if (!result.run.contains("stale_ceilings")) return;
  try {
    int marked = mark_measured_ceilings_stale(
        result.run["stale_ceilings"],
        fmt::format("{} beat it by more than {:.0f}% ({})", problem.str(), kStaleCeilingPct - 100,
                    utc_timestamp()));
    if (marked > 0 && !quiet) {
      say(fmt::format(
          "dlbench: {} measured ceiling(s) marked stale: `dlbench peak` measures them again",
          marked));
    }
  } catch (const Error& e) {
    say(std::string("dlbench: warning: ") + e.what());
  }
}

/// The progress of a run over its problems: one line as each starts (with the time left, from
/// the mean so far) and a heartbeat while it runs.
class RunProgress {
 public:
  explicit RunProgress(size_t problems) : problems_(problems) {}

  void start(size_t index, const Problem& problem) {
    std::string eta;
    if (index > 0) {
      double elapsed = seconds_since(start_);
      eta = fmt::format("  ({} so far, about {} left)", format_seconds(elapsed),
                        format_seconds(elapsed / index * (problems_ - index)));
    }
    say(fmt::format("[{}/{}] running  {}{}", index + 1, problems_, problem.str(), eta));
    heartbeat_.emplace(say);
    set_progress_sink(
        [this](const std::string& text, bool event) { heartbeat_->update(text, event); },
        [this] { heartbeat_->poll(); });
  }

  void stop() {
    set_progress_sink(nullptr);
    heartbeat_.reset();
  }

 private:
  size_t problems_;
  Clock::time_point start_ = Clock::now();
  std::optional<Heartbeat> heartbeat_;
};

}  // namespace

std::string default_results_path(const std::string& label, bool reserve) {
  std::string stamp = utc_timestamp();  // 2026-11-21T19:40:00Z
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  if (!stamp.empty() && stamp.back() == 'Z') stamp.pop_back();
  const std::string directory = "results";
  if (reserve) make_directories(directory);
  std::string base = directory + "/" + safe_file_name(label, 80, "run") + "-" + stamp;
  std::string path = base + ".json";
  for (int i = 1;; ++i) {
    if (reserve) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::close(fd);
        break;
      }
      if (errno != EEXIST) {
        throw Error("cannot create results file '" + path + "': " + system_reason(errno));
      }
    } else if (::access(path.c_str(), F_OK) != 0) {
      break;
    }
    path = base + "-" + std::to_string(i) + ".json";
  }
  return path;
}

std::vector<Problem> divide_batches(std::vector<Problem> problems, int ranks) {
  for (Problem& problem : problems) {
    int64_t global = Registry::instance().create(problem)->batch_size();
    if (global <= 0) continue;
    if (global % ranks != 0) {
      throw Error(fmt::format(
          "--scaling strong: {} has batch={}, which {} ranks cannot share evenly; give a batch "
          "that is a multiple of {}",
          problem.workload, global, ranks, ranks));
    }
    problem.params["batch"] = std::to_string(global / ranks);
    problem = Registry::instance().resolve(problem);
  }
  return problems;
}

void warn_if_busy() {
  double others = others_busy_cores(0.25);
  int usable = std::max(1, cpu_info().affinity_cpus);
  if (!(others >= std::max(kBusyMachineCores, 0.25 * usable))) return;
  say(fmt::format(
      "dlbench: warning: the machine is busy: other processes keep {:.1f} of {} CPU(s) busy (load "
      "average {:.2f}); results measured under them are flagged contended",
      others, usable, load_average_1m()));
}

bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value && *value && std::string(value) != "0";
}

int run_request(const RunRequest& request, const dist::RankInfo& me) {
  const bool leader = me.rank == 0;
  std::unique_ptr<ResultsOutput> output;
  if (leader) output = open_results(request);
  // A distributed run: every rank meets at rank 0's store and proves it runs the same problems.
  std::unique_ptr<dist::Rendezvous> rendezvous;
  std::vector<std::string> hosts{dist::hostname()};
  if (me.distributed()) {
    if (!leader) {
      say(fmt::format("dlbench: rank {} of {} joining {}:{}", me.rank, me.world_size,
                      me.master_addr, me.master_port));
    }
    rendezvous = std::make_unique<dist::Rendezvous>(me, request.dist_timeout);
    hosts = meet_peers(request, me, *rendezvous);
    if (!leader) return run_as_follower(request, me, *rendezvous);
  }

  ResultsDocument document = new_document(request, me, hosts);
  output->save_initial(document);  // fails early (exit 2) if the file cannot be written
  install_interrupt_handlers();
  // Ranks of a distributed run leave it to their launcher (--nproc): their peers keep the CPUs
  // busy while they start.
  const RunOptions& options = request.options;
  if (!request.quiet && !options.dry_run && !me.distributed()) warn_if_busy();
  // Ranks on one host would measure the ceilings over each other: a distributed run uses the
  // cached (dlbench peak) or theoretical ones.
  bool measure = request.measure_ceilings && !options.dry_run && !me.distributed();
  document.context["measured_ceilings"] =
      prepare_ceilings(request.problems, measure, request.quiet);
  output->save(document, "the run's context");
  // A quality run's MLPerf-style log goes beside the results file (<results>-<index>.mllog), or
  // under results/ when the results go to a stream.
  std::string log_stem =
      without_json_suffix(output->is_file() ? output->path() : default_results_path(request.label));

  bool any_failed = false;
  RunProgress progress(request.problems.size());
  for (size_t i = 0; i < request.problems.size(); ++i) {
    const Problem& problem = request.problems[i];
    RunOptions problem_options = request.problem_options[i];
    if (!request.quiet) progress.start(i, problem);
    if (is_quality_run(problem)) {
      if (!output->is_file()) make_directories(log_stem.substr(0, log_stem.rfind('/')));
      problem_options.mllog = fmt::format("{}-{}.mllog", log_stem, i + 1);
    }
    Result result = rendezvous ? run_as_rank(problem, problem_options, i, me, *rendezvous, hosts,
                                             request.dist_timeout)
                    : options.isolate ? run_isolated(problem, problem_options)
                                      : run_in_process(problem, problem_options);
    progress.stop();
    mark_stale_ceilings(result, problem, request.quiet);
    any_failed |= result.status == Status::kFailed;
    document.results.push_back(result);
    output->save(document, fmt::format("result {} of {} ({})", i + 1, request.problems.size(),
                                       problem.str()));
    if (!request.quiet && request.on_result) {
      request.on_result(result, i + 1, request.problems.size());
    }
    if (interrupted()) {
      if (output->finish(document)) {
        say(fmt::format("dlbench: interrupted; {} result(s) saved in {}", document.results.size(),
                        output->path()));
      }
      return kExitFailures;
    }
  }
  // Results written to standard output replace the table there.
  if (!output->to_stdout() && request.on_complete) request.on_complete(document);
  bool saved = output->finish(document);
  if (saved) say("results: " + output->path());
  return any_failed || !saved ? kExitFailures : kExitOk;
}

}  // namespace dlbench
