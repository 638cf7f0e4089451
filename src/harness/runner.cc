#include "harness/runner.h"

#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <new>
#include <optional>

#include "core/device.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/run_mode.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "core/timeline.h"
#include "harness/contention.h"
#include "harness/measure.h"
#include "harness/process_group.h"
#include "harness/progress.h"
#include "harness/quality.h"
#include "harness/strategies.h"

namespace dlbench {

using nlohmann::json;

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

}  // namespace

Result run_in_process(const Problem& resolved, const RunOptions& options) {
  Result result;
  result.problem = resolved.str();
  result.workload = resolved.workload;
  result.params = resolved.params;
  result.started = utc_timestamp();
  result.run = options.to_json();
  auto problem_start = Clock::now();

  // The groups outlive the workload, whose collectives hold their backends.
  std::unique_ptr<dist::ProblemGroup> group;
  dist::LocalGroup local_group;
  Timeline timeline;  // the loader and the reducer record into it
  std::unique_ptr<Workload> workload;
  bool set_up = false;
  try {
    workload = Registry::instance().create(resolved);
    if (options.group.active()) {
      bool quality = is_quality_run(resolved);
      if (quality || !workload->parts().empty()) {
        throw Unsupported(
            std::string(quality ? "quality runs (mode=quality)" : "layer composites") +
            " run on one rank; drop --nproc (or run one rank) for this problem");
      }
      group = std::make_unique<dist::ProblemGroup>(options.group);
      result.run["rank"] = options.group.rank;
      result.run["world_size"] = options.group.world_size;
    }
    result.work = workload->work();
    int threads = static_cast<int>(resolved.get_int("threads"));
    uint64_t seed = static_cast<uint64_t>(resolved.get_int("seed"));
    set_thread_count(threads);
    result.run["threads_effective"] = at::get_num_threads();
    result.run["blas_threads_effective"] = active_blas().threads;
    torch::manual_seed(seed);

    if (is_quality_run(resolved)) {
      workload.reset();  // each run of a quality problem sets up its own instance
      ConditionsMonitor monitor(threads, local_ranks_on_host());
      run_quality_problem(result, resolved, options);
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
    ExecContext context{*device, threads, seed,
                        group ? static_cast<CommGroup*>(group.get()) : &local_group, &timeline};
    report_progress("setting up");
    workload->setup(context);
    set_up = true;
    // Counts that depend on the group (a collective's size per rank) are known now.
    result.work = workload->work();
    ConditionsMonitor monitor(threads, local_ranks_on_host());
    run_throughput(result, *workload, *device, options, threads, group.get(), timeline);
    run_probes(result, *workload, *device, options, group.get());
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
            fmt::format("correctness check failed: {} = {:g} exceeds tolerance {:g}",
                        result.check.metric, result.check.error, result.check.tolerance);
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
      result.reason = fmt::format(
          "communication with the other ranks failed (a peer died, hung or "
          "failed first): {}",
          message);
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

}  // namespace dlbench
