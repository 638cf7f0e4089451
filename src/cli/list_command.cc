// `dlbench list`: the workloads, their parameters and modes, as a table or JSON.
#include "cli/subcommands.h"

#include <fmt/core.h>

#include <memory>

#include "cli/cli_common.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

namespace dlbench {

using nlohmann::json;

namespace {

int list_workloads(const std::string& filter, const std::string& format, bool all) {
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
      out += fmt::format("    {:<10} {:<30} default {:<10} {}\n", p.name, p.type_name(),
                         p.default_value, p.help);
    }
    out += "\n";
  }
  out += "every workload also takes:\n";
  for (const auto& p : common_params()) {
    out += fmt::format("    {:<10} {:<30} default {:<10} {}\n", p.name, p.type_name(),
                       p.default_value, p.help);
  }
  print(out);
  return kExitOk;
}

}  // namespace

Command add_list_command(CLI::App& app) {
  struct Options {
    std::string filter, format = "table";
    bool all = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* list = app.add_subcommand("list", "list workloads with their parameters");
  list->add_option("filter", o->filter, "only names containing this text, or a category");
  list->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->add_flag("--all", o->all, "include hidden test-only workloads");
  return {list, [o](const CommandLine&) { return list_workloads(o->filter, o->format, o->all); }};
}

}  // namespace dlbench
