// `dlbench info`: the system context (CPU, memory, libraries, GPUs, theoretical ceilings).
#include "cli/subcommands.h"

#include <fmt/core.h>

#include <memory>

#include "cli/cli_common.h"
#include "core/error.h"
#include "core/strings.h"
#include "harness/context.h"

namespace dlbench {

using nlohmann::json;

namespace {

int show_system(const std::string& format) {
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
         fmt::format("{:.3f} GHz", cpu.value("clock_hz", 0.0) / 1e9) + " from " +
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
      out += fmt::format("  {:<7} {:<5} {:>14}  {}\n", device, dtype,
                         format_si(c.value("flops", 0.0), "FLOP/s"), c.value("basis", ""));
    }
    if (entry["bandwidth"].is_null()) {
      out += fmt::format("  {:<7} {:<5} {:>14}  {}\n", device, "mem", "n/a",
                         "no theoretical memory bandwidth (DIMM layout unknown); measure it with "
                         "micro/stream");
    } else {
      out += fmt::format("  {:<7} {:<5} {:>14}  {}\n", device, "mem",
                         format_si(entry["bandwidth"].value("bytes_per_s", 0.0), "B/s"),
                         entry["bandwidth"].value("basis", ""));
    }
  }
  print(out);
  return kExitOk;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto format = std::make_shared<std::string>("table");
  CLI::App* info = app.add_subcommand("info", "the system context: CPU, memory, libraries, GPUs");
  info->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return {info, [format](const CommandLine&) { return show_system(*format); }};
}

}  // namespace dlbench
