// `dlbench describe`: what a problem is, its work counts, its ceilings and its time floor,
// without running it.
#include "cli/subcommands.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>

#include "analysis/ceilings.h"
#include "cli/cli_common.h"
#include "cli/targets.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

int describe_problems(const std::vector<std::string>& tokens, const std::string& format) {
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
    text += fmt::format("  FLOPs per step:    {} ({})\n", format_number(work.flops),
                        format_si(work.flops, "FLOP"));
    if (work.bytes_at_run_time && work.bytes <= 0) {
      text += "  bytes per step:    counted from the layers' operands as the first step runs\n";
    } else {
      text += fmt::format("  bytes per step:    {} ({})\n", format_number(work.bytes),
                          format_bytes(work.bytes));
    }
    text +=
        fmt::format("  samples per step:  {} {}\n", format_number(work.samples), work.sample_unit);
    if (work.flops > 0 && work.bytes > 0) {
      text += fmt::format("  arithmetic intensity: {:.3g} FLOP/B\n", work.flops / work.bytes);
    }
    for (const auto& [key, value] : description.facts) {
      text += fmt::format("  {:<18} {}\n", (key + ":"), value);
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

}  // namespace

Command add_describe_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> tokens;
    std::string format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App* describe = app.add_subcommand(
      "describe", "what a problem is and its work counts (FLOPs, bytes, samples), without running");
  describe->add_option("problem", o->tokens, "workload and key=value parameters")->required();
  describe->add_option("--format", o->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  return {describe, [o](const CommandLine&) { return describe_problems(o->tokens, o->format); }};
}

}  // namespace dlbench
