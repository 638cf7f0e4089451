// `dlbench peak`: measures the machine's ceilings (or shows the cached ones) as a table or JSON.
#include "cli/subcommands.h"

#include <fmt/core.h>

#include <memory>

#include "analysis/ceiling_cache.h"
#include "analysis/ceilings.h"
#include "cli/cli_common.h"
#include "core/device.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/system_info.h"
#include "harness/peak.h"

namespace dlbench {

using nlohmann::json;

namespace {

std::string peak_table(const json& measured) {
  std::string out =
      fmt::format("measured ceilings of {} (threads {}), {}\n", measured.value("device", "?"),
                  measured.value("threads", 0), measured.value("measured_at", "?"));
  out += fmt::format("  {:<16} {:>14} {:>14} {:>8}  {}\n", "ceiling", "measured", "theoretical",
                     "% theo", "measured by");
  auto row = [&](const std::string& name, const json& entry, const char* key, const char* unit) {
    if (!entry.is_object()) {
      out += fmt::format("  {:<16} {:>14} {:>14} {:>8}  {}\n", name, "-", "-", "-",
                         "not measured (see problems below)");
      return;
    }
    std::string theory =
        entry.contains("theoretical") ? format_si(entry["theoretical"].get<double>(), unit) : "-";
    std::string pct = entry.contains("pct_of_theoretical")
                          ? fmt::format("{:.1f}%", entry["pct_of_theoretical"].get<double>())
                          : "-";
    out += fmt::format("  {:<16} {:>14} {:>14} {:>8}  {}\n", name,
                       format_si(entry[key].get<double>(), unit), theory, pct,
                       entry.value("basis", ""));
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

int measure_peak(const std::string& device_spec, int threads, bool force, bool quick,
                 const std::string& format) {
  std::unique_ptr<Device> device = Device::create(device_spec);  // Unsupported: no such device
  std::string name = device->name();
  if (threads <= 0) threads = default_thread_count();
  if (threads > usable_cpu_count()) {
    print_error_line(
        fmt::format("dlbench: warning: --threads {} is more than the {} CPUs this "
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

}  // namespace

Command add_peak_command(CLI::App& app) {
  struct Options {
    std::string device = "cpu", format = "table";
    int threads = 0;
    bool force = false, quick = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* peak = app.add_subcommand(
      "peak",
      "measure the machine's ceilings (compute per dtype: best of large GEMM and conv; memory: "
      "STREAM triad; host<->device on GPUs) and cache them for every run");
  peak->add_option("--device", o->device, "cpu, cuda or cuda:N");
  peak->add_option("--threads", o->threads, "CPU threads (default: physical cores)")
      ->check(threads_option());
  peak->add_flag("--force", o->force, "measure again even when cached");
  peak->add_flag("--quick", o->quick, "short run rules (a smoke test, not a reference)");
  peak->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return {peak, [o](const CommandLine&) {
            return measure_peak(o->device, o->threads, o->force, o->quick, o->format);
          }};
}

}  // namespace dlbench
